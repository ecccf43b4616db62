//! `#[derive(Command)]`: an enum of commands, one variant per command, its
//! fields the arguments in order.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Field, Fields, GenericArgument, Ident, LitStr, PathArguments, Type};

use crate::attr::{self, Errors, Keys};

const ENUM_KEYS: &[&str] = &["rename_all", "case_sensitive"];
const VARIANT_KEYS: &[&str] = &["name", "aliases", "example", "hidden"];
const FIELD_KEYS: &[&str] = &["name", "rest", "raw", "flag", "option"];
const RENAMES: &[&str] = &["lowercase", "kebab-case", "snake_case"];

enum Kind<'a> {
    Required(&'a Type),
    Optional(&'a Type),
    /// `raw`: as written, not trimmed or unquoted.
    Rest(bool),
    OptionalRest(bool),
    /// `--name`, a `bool`.
    Flag,
    /// `--name value`, an `Option<T>`.
    Named(&'a Type),
}

impl Kind<'_> {
    fn is_option(&self) -> bool {
        matches!(self, Kind::Flag | Kind::Named(_))
    }
}

struct Arg<'a> {
    ident: &'a Ident,
    name: String,
    doc: String,
    kind: Kind<'a>,
}

struct Cmd<'a> {
    variant: &'a Ident,
    name: String,
    aliases: Vec<String>,
    example: Option<String>,
    hidden: bool,
    doc: String,
    args: Vec<Arg<'a>>,
    named: bool,
}

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let syn::Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "`Command` derives on an enum with one variant per command, e.g. `enum MyCommands { Roll { dice: String } }`",
        ));
    };
    if data.variants.is_empty() {
        return Err(syn::Error::new(
            input.ident.span(),
            "a command enum needs at least one variant: one per command",
        ));
    }
    let mut errors = Errors::default();
    let mut rename = "lowercase".to_owned();
    let mut case_sensitive = false;
    Keys::new("command", ENUM_KEYS).parse(&input.attrs, |key, meta| {
        if key == "case_sensitive" {
            attr::flag(key, meta)?;
            case_sensitive = true;
        } else {
            let lit = attr::string(key, meta)?;
            if !RENAMES.contains(&lit.value().as_str()) {
                return Err(syn::Error::new(
                    lit.span(),
                    format!("expected one of: {}", quoted(RENAMES)),
                ));
            }
            rename = lit.value();
        }
        Ok(())
    })?;

    let mut cmds = Vec::new();
    let mut words: Vec<(String, String)> = Vec::new();
    for v in &data.variants {
        match variant(v, &rename) {
            Ok((cmd, spans)) => {
                for (word, span) in std::iter::once(&cmd.name).chain(&cmd.aliases).zip(spans) {
                    let key = if case_sensitive {
                        word.clone()
                    } else {
                        word.to_lowercase()
                    };
                    if let Some((_, owner)) = words.iter().find(|(w, _)| *w == key) {
                        errors.at(
                            span,
                            format!("`{word}` already names the command `{owner}`; choose another name or alias"),
                        );
                    }
                    words.push((key, cmd.variant.to_string()));
                }
                cmds.push(cmd);
            }
            Err(e) => errors.push(e),
        }
    }
    errors.finish()?;
    Ok(generate(input, &cmds, case_sensitive))
}

pub fn dummy(input: &DeriveInput) -> TokenStream {
    let name = &input.ident;
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    let p = quote!(::ghostkit::__private);
    quote! {
        #[automatically_derived]
        impl #impl_g #p::Command for #name #ty_g #where_c {
            const COMMANDS: &'static [#p::CommandSpec] = &[];
            fn parse(_: &str, _: &str) -> #p::Option<#p::Result<Self, #p::CommandError>> {
                #p::Option::None
            }
        }
    }
}

fn quoted(list: &[&str]) -> String {
    list.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SetTopic` as a command word.
fn rename_variant(ident: &Ident, rule: &str) -> String {
    let s = ident.to_string();
    let sep = match rule {
        "kebab-case" => Some('-'),
        "snake_case" => Some('_'),
        _ => None,
    };
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            if let Some(sep) = sep {
                out.push(sep);
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// A command name: one word, or several for a sub-command (`"rooms add"`),
/// kept with single spaces.
fn check_word(lit: &LitStr) -> syn::Result<String> {
    let value = lit.value();
    let words: Vec<&str> = value.split_whitespace().collect();
    if words.is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            "a command name is a word, e.g. `\"roll\"`, or words for a sub-command, e.g. `\"rooms add\"`",
        ));
    }
    Ok(words.join(" "))
}

/// One variant, and the spans of its name and aliases (for duplicate errors).
fn variant<'a>(v: &'a syn::Variant, rename: &str) -> syn::Result<(Cmd<'a>, Vec<Span>)> {
    let mut name = None;
    let mut aliases = Vec::new();
    let mut example = None;
    let mut hidden = false;
    Keys::new("command", VARIANT_KEYS).parse(&v.attrs, |key, meta| {
        match key {
            "name" => name = Some(attr::string(key, meta)?),
            "aliases" => aliases = attr::strings(key, meta)?,
            "example" => example = Some(attr::string(key, meta)?.value()),
            _ => {
                attr::flag(key, meta)?;
                hidden = true;
            }
        }
        Ok(())
    })?;
    let mut spans = vec![name.as_ref().map_or(v.ident.span(), LitStr::span)];
    let name = match &name {
        Some(lit) => check_word(lit)?,
        None => rename_variant(&v.ident, rename),
    };
    let mut alias_words = Vec::new();
    for lit in &aliases {
        alias_words.push(check_word(lit)?);
        spans.push(lit.span());
    }
    let (fields, named) = match &v.fields {
        Fields::Unit => (Vec::new(), false),
        Fields::Named(f) => (f.named.iter().collect(), true),
        Fields::Unnamed(f) => {
            return Err(syn::Error::new(
                f.span(),
                format!(
                    "name the fields of `{}`: `{} {{ text: String }}`; a field's name is how help and errors call the argument",
                    v.ident, v.ident
                ),
            ))
        }
    };
    let mut args: Vec<Arg<'a>> = Vec::new();
    let mut errors = Errors::default();
    let mut options: Vec<String> = Vec::new();
    for f in fields {
        match arg(f) {
            Ok(a) if a.kind.is_option() => {
                if options.contains(&a.name.to_lowercase()) {
                    errors.at(
                        a.ident.span(),
                        format!(
                            "`--{}` is already an option of `{}`; give this field another `name`",
                            a.name, v.ident
                        ),
                    );
                }
                options.push(a.name.to_lowercase());
                args.push(a);
            }
            Ok(a) => {
                if let Some(prev) = args.iter().rev().find(|p| !p.kind.is_option()) {
                    if matches!(prev.kind, Kind::Rest(_) | Kind::OptionalRest(_)) {
                        errors.at(
                            f.span(),
                            format!("`{}` takes the rest of the line, so it must be the last field; move `{}` before it", prev.ident, a.ident),
                        );
                    } else if matches!(prev.kind, Kind::Optional(_))
                        && matches!(a.kind, Kind::Required(_) | Kind::Rest(_))
                    {
                        errors.at(
                            a.ident.span(),
                            format!("required `{}` cannot follow the optional `{}`: move it before, or make it an `Option<…>`", a.ident, prev.ident),
                        );
                    }
                }
                args.push(a);
            }
            Err(e) => errors.push(e),
        }
    }
    errors.finish()?;
    Ok((
        Cmd {
            variant: &v.ident,
            name,
            aliases: alias_words,
            example,
            hidden,
            doc: attr::doc(&v.attrs),
            args,
            named,
        },
        spans,
    ))
}

/// `Option<T>` → `T`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn is_string(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "String" && s.arguments.is_empty()))
}

fn arg(f: &Field) -> syn::Result<Arg<'_>> {
    let mut name = None;
    let mut rest = None;
    let mut raw = None;
    let mut option = None;
    Keys::new("command", FIELD_KEYS).parse(&f.attrs, |key, meta| {
        if key == "flag" || key == "option" {
            attr::flag(key, meta)?;
            if option.is_some() {
                return Err(meta.error(
                    "a field is either a `flag` (`--name`, a `bool`) or an `option` (`--name value`, an `Option<T>`), not both",
                ));
            }
            option = Some((key == "flag", meta.path.span()));
        } else if key == "rest" {
            attr::flag(key, meta)?;
            rest = Some(meta.path.span());
        } else if key == "raw" {
            attr::flag(key, meta)?;
            raw = Some(meta.path.span());
        } else {
            let lit = attr::string(key, meta)?;
            if lit.value().trim().is_empty() {
                return Err(syn::Error::new(
                    lit.span(),
                    "an argument name is not empty, e.g. `\"user id\"`",
                ));
            }
            name = Some(lit.value());
        }
        Ok(())
    })?;
    let ident = f
        .ident
        .as_ref()
        .ok_or_else(|| syn::Error::new(f.span(), "a named field"))?;
    if let (Some(span), None) = (raw, rest) {
        return Err(syn::Error::new(
            span,
            "`raw` qualifies `rest`: write `#[command(rest, raw)]`",
        ));
    }
    if let Some((is_flag, span)) = option {
        return option_arg(f, ident, name, rest.or(raw).is_some(), is_flag, span);
    }
    let raw = raw.is_some();
    let inner = option_inner(&f.ty);
    let kind = match (rest, inner) {
        (Some(_), Some(t)) if is_string(t) => Kind::OptionalRest(raw),
        (Some(_), None) if is_string(&f.ty) => Kind::Rest(raw),
        (Some(_), _) => {
            return Err(syn::Error::new(
                f.ty.span(),
                "`rest` takes the rest of the line as text: make this field `String` (or `Option<String>` if it may be empty)",
            ))
        }
        (None, Some(t)) => Kind::Optional(t),
        (None, None) => Kind::Required(&f.ty),
    };
    let name = name.unwrap_or_else(|| ident.to_string().trim_start_matches("r#").replace('_', " "));
    Ok(Arg {
        ident,
        name,
        doc: attr::doc(&f.attrs).replace('\n', " "),
        kind,
    })
}

/// A `#[command(flag)]` or `#[command(option)]` field.
fn option_arg<'a>(
    f: &'a Field,
    ident: &'a Ident,
    name: Option<String>,
    with_rest: bool,
    is_flag: bool,
    span: Span,
) -> syn::Result<Arg<'a>> {
    let key = if is_flag { "flag" } else { "option" };
    if with_rest {
        return Err(syn::Error::new(
            span,
            format!("`{key}` is given as `--name`, anywhere in the message, so it cannot be `rest` or `raw`"),
        ));
    }
    let kind =
        match option_inner(&f.ty) {
            _ if is_flag && is_bool(&f.ty) => Kind::Flag,
            _ if is_flag => {
                return Err(syn::Error::new(
                    f.ty.span(),
                    "a `flag` is there or not: make this field `bool`",
                ))
            }
            Some(t) => Kind::Named(t),
            None => return Err(syn::Error::new(
                f.ty.span(),
                "an `option` may be left out: make this field `Option<…>`, e.g. `Option<String>`",
            )),
        };
    let name = name.unwrap_or_else(|| ident.to_string().trim_start_matches("r#").replace('_', "-"));
    if name.chars().any(char::is_whitespace) || name.starts_with('-') {
        return Err(syn::Error::new(
            ident.span(),
            "an option's `name` is one word, given without `--`, e.g. `name = \"room\"`",
        ));
    }
    Ok(Arg {
        ident,
        name,
        doc: attr::doc(&f.attrs).replace('\n', " "),
        kind,
    })
}

fn is_bool(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.is_ident("bool"))
}

fn generate(input: &DeriveInput, cmds: &[Cmd<'_>], case_sensitive: bool) -> TokenStream {
    let name = &input.ident;
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    let p = quote!(::ghostkit::__private);

    let specs = cmds.iter().map(|c| {
        let (cname, aliases, doc, hidden) = (&c.name, &c.aliases, &c.doc, c.hidden);
        let example = match &c.example {
            Some(e) => quote!(#p::Option::Some(#e)),
            None => quote!(#p::Option::None),
        };
        let args = c.args.iter().map(|a| {
            let (aname, adoc) = (&a.name, &a.doc);
            let kind = match a.kind {
                Kind::Required(_) => quote!(Required),
                Kind::Optional(_) => quote!(Optional),
                Kind::Rest(_) => quote!(Rest),
                Kind::OptionalRest(_) => quote!(OptionalRest),
                Kind::Flag => quote!(Flag),
                Kind::Named(_) => quote!(Named),
            };
            quote!(#p::ArgSpec { name: #aname, kind: #p::ArgKind::#kind, doc: #adoc })
        });
        quote! {
            #p::CommandSpec {
                name: #cname,
                aliases: &[#(#aliases),*],
                args: &[#(#args),*],
                doc: #doc,
                example: #example,
                hidden: #hidden,
            }
        }
    });

    let names = cmds.iter().enumerate().flat_map(|(i, c)| {
        std::iter::once(&c.name)
            .chain(&c.aliases)
            .map(move |w| quote!((#i, #w)))
    });
    let arms = cmds.iter().enumerate().map(|(i, c)| {
        let variant = c.variant;
        let reads = c.args.iter().map(|a| {
            let id = a.ident;
            match a.kind {
                Kind::Required(t) => quote_spanned!(t.span()=> let #id = __args.required::<#t>()?;),
                Kind::Optional(t) => quote_spanned!(t.span()=> let #id = __args.optional::<#t>()?;),
                Kind::Rest(false) => quote!(let #id = __args.rest()?;),
                Kind::Rest(true) => quote!(let #id = __args.rest_raw()?;),
                Kind::OptionalRest(false) => quote!(let #id = __args.optional_rest()?;),
                Kind::OptionalRest(true) => quote!(let #id = __args.optional_rest_raw()?;),
                Kind::Flag => quote!(let #id = __args.flag()?;),
                Kind::Named(t) => quote_spanned!(t.span()=> let #id = __args.option::<#t>()?;),
            }
        });
        let ids = c.args.iter().map(|a| a.ident);
        let build = if c.named {
            quote!(Self::#variant { #(#ids),* })
        } else {
            quote!(Self::#variant)
        };
        quote! {
            #p::Option::Some((#i, rest)) => (|| {
                #[allow(unused_mut)]
                let mut __args = #p::Args::new(prefix, &<Self as #p::Command>::COMMANDS[#i], rest);
                #(#reads)*
                __args.finish()?;
                #p::Result::Ok(#build)
            })(),
        }
    });

    quote! {
        #[automatically_derived]
        #[allow(clippy::all, clippy::redundant_closure_call, unused_qualifications)]
        impl #impl_g #p::Command for #name #ty_g #where_c {
            const COMMANDS: &'static [#p::CommandSpec] = &[#(#specs),*];
            const CASE_SENSITIVE: bool = #case_sensitive;

            fn parse(
                prefix: &str,
                text: &str,
            ) -> #p::Option<#p::Result<Self, #p::CommandError>> {
                const NAMES: &[(usize, &str)] = &[#(#names),*];
                let (word, _) = #p::split_command(prefix, text)?;
                #p::Option::Some(match #p::match_name(prefix, text, NAMES, #case_sensitive) {
                    #(#arms)*
                    _ => #p::Result::Err(#p::CommandError::Unknown {
                        prefix: #p::String::from(prefix),
                        word: #p::String::from(word),
                    }),
                })
            }
        }
    }
}
