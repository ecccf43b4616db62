//! `#[derive(Bot)]`: the `#[bot(...)]` attributes compiled into an
//! `impl Routing`; ghostkit turns `Bot + Routing` into a `Handler`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, LitStr, Token, Type};

use crate::attr::{self, Errors, Keys};

const KEYS: &[&str] = &[
    "prefix",
    "command",
    "ignore_own_ghosts",
    "ignore_senders",
    "ignore_rooms",
    "auto_join",
    "event",
    "order",
];

/// The values of `order = "…"`, with the `DispatchOrder` variant of each.
const ORDERS: &[(&str, &str)] = &[
    ("per_room", "PerRoom"),
    ("per_sender", "PerSender"),
    ("unordered", "Unordered"),
];

/// What `#[bot(...)]` says.
#[derive(Default)]
struct BotAttrs {
    prefix: Option<LitStr>,
    command: Option<(Ident, Type)>,
    ignore_own_ghosts: bool,
    ignore_senders: Vec<LitStr>,
    ignore_rooms: Vec<LitStr>,
    auto_join: bool,
    events: Vec<(LitStr, Ident)>,
    /// The `DispatchOrder` variant, spanned at the value.
    order: Option<Ident>,
}

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    if !matches!(input.data, syn::Data::Struct(_)) {
        return Err(syn::Error::new(
            input.ident.span(),
            "`Bot` derives on a struct (the bot's state, e.g. `struct MyBot;`), not on an enum or union",
        ));
    }
    let attrs = parse(input)?;
    Ok(generate(input, &attrs))
}

/// The impl emitted when the attributes are wrong, so that the one error
/// shown is the attribute's and not "`Handler` is not implemented" later.
pub fn dummy(input: &DeriveInput) -> TokenStream {
    let name = &input.ident;
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_g ::ghostkit::__private::Routing for #name #ty_g #where_c {}
    }
}

fn parse(input: &DeriveInput) -> syn::Result<BotAttrs> {
    let mut a = BotAttrs::default();
    let mut errors = Errors::default();
    let mut keys = Keys::new("bot", KEYS);
    let mut prefix_key = None;
    keys.parse(&input.attrs, |key, meta| {
        match key {
            "prefix" => {
                let lit = attr::string(key, meta)?;
                let v = lit.value();
                if v.is_empty() || v.chars().any(char::is_whitespace) {
                    errors.at(
                        lit.span(),
                        "a prefix is one or more characters without spaces, e.g. `prefix = \"!\"`",
                    );
                }
                prefix_key = Some(meta.path.span());
                a.prefix = Some(lit);
            }
            "command" => {
                if !meta.input.peek(Token![=]) {
                    return Err(meta.error(
                        "`command` needs the command enum: `command = MyCommands` (an enum with `#[derive(ghostkit::Command)]`)",
                    ));
                }
                let ty: Type = meta.value()?.parse()?;
                let key_ident = meta.path.get_ident().cloned();
                if let Some(k) = key_ident {
                    a.command = Some((k, ty));
                }
            }
            "ignore_own_ghosts" => {
                attr::flag(key, meta)?;
                a.ignore_own_ghosts = true;
            }
            "auto_join" => {
                attr::flag(key, meta)?;
                a.auto_join = true;
            }
            "ignore_senders" | "ignore_rooms" => {
                let list = attr::strings(key, meta)?;
                for lit in &list {
                    if let Err(e) = regex::Regex::new(&format!("^(?:{})$", lit.value())) {
                        errors.at(lit.span(), format!("not a valid regex: {e}"));
                    }
                }
                if key == "ignore_senders" {
                    a.ignore_senders = list;
                } else {
                    a.ignore_rooms = list;
                }
            }
            "order" => {
                if !meta.input.peek(Token![=]) {
                    return Err(meta.error(
                        "`order` needs a value: `order = \"unordered\"` (one of: \"per_room\", \"per_sender\", \"unordered\")",
                    ));
                }
                let value = meta.value()?;
                if value.peek(Ident) {
                    let ident: Ident = value.parse()?;
                    return Err(syn::Error::new(
                        ident.span(),
                        format!("write the order as a string: `order = \"{ident}\"`"),
                    ));
                }
                let lit: LitStr = value.parse()?;
                let given = lit.value();
                match ORDERS.iter().find(|(name, _)| *name == given.replace('-', "_")) {
                    Some((_, variant)) => a.order = Some(Ident::new(variant, lit.span())),
                    None => {
                        let expected: Vec<String> =
                            ORDERS.iter().map(|(name, _)| format!("`\"{name}\"`")).collect();
                        errors.at(
                            lit.span(),
                            format!(
                                "unknown order `{given}`; expected one of: {}",
                                expected.join(", ")
                            ),
                        );
                    }
                }
            }
            "event" => {
                let content;
                syn::parenthesized!(content in meta.input);
                while !content.is_empty() {
                    let ty: LitStr = content.parse().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            "expected `\"event.type\" = method`, e.g. `event(\"org.example.ping\" = on_ping)`",
                        )
                    })?;
                    content.parse::<Token![=]>()?;
                    let method: Ident = content.parse()?;
                    if ty.value().is_empty() {
                        errors.at(ty.span(), "an event type is not empty, e.g. `\"org.example.ping\"`");
                    }
                    if let Some((_, first)) = a.events.iter().find(|(t, _)| t.value() == ty.value()) {
                        errors.at(
                            ty.span(),
                            format!("event type `{}` is routed twice (first to `{first}`); keep one", ty.value()),
                        );
                    }
                    a.events.push((ty, method));
                    if content.is_empty() {
                        break;
                    }
                    content.parse::<Token![,]>()?;
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    match (&a.command, &a.prefix, prefix_key) {
        (Some((key, _)), None, _) => errors.at(
            key.span(),
            "missing `prefix` for the commands, add it: `#[bot(prefix = \"!\", command = ...)]`",
        ),
        (None, Some(_), Some(span)) => errors.at(
            span,
            "`prefix` is for commands: add `command = MyCommands` (an enum with `#[derive(ghostkit::Command)]`) or remove `prefix`",
        ),
        _ => {}
    }
    errors.finish()?;
    Ok(a)
}

fn generate(input: &DeriveInput, a: &BotAttrs) -> TokenStream {
    let name = &input.ident;
    let (impl_g, ty_g, where_c) = input.generics.split_for_impl();
    let p = quote!(::ghostkit::__private);
    let ignore_own = a.ignore_own_ghosts;
    let auto_join = a.auto_join;
    let order = match &a.order {
        Some(variant) => quote! {
            const DISPATCH_ORDER: #p::DispatchOrder = #p::DispatchOrder::#variant;
        },
        None => quote!(),
    };

    let set = |fn_name: Ident, list: &[LitStr]| {
        if list.is_empty() {
            return quote!();
        }
        quote! {
            fn #fn_name(&self, id: &str) -> bool {
                static SET: #p::LazyLock<#p::RegexSet> =
                    #p::LazyLock::new(|| #p::anchored_set(&[#(#list),*]));
                SET.is_match(id)
            }
        }
    };
    let senders = set(Ident::new("ignores_sender", name.span()), &a.ignore_senders);
    let rooms = set(Ident::new("ignores_room", name.span()), &a.ignore_rooms);

    let custom = if a.events.is_empty() {
        quote!()
    } else {
        let arms = a.events.iter().map(|(ty, method)| {
            let call = quote_spanned!(method.span()=> self.#method(ctx));
            quote!(#ty => #p::Option::Some(#p::Box::pin(#call)),)
        });
        quote! {
            fn route_custom<'__a>(
                &'__a self,
                ctx: &'__a #p::Context,
            ) -> #p::Option<#p::BoxFuture<'__a, #p::HandlerResult>> {
                match ctx.event().event_type() {
                    #(#arms)*
                    _ => #p::Option::None,
                }
            }
        }
    };

    let command = match (&a.command, &a.prefix) {
        (Some((_, ty)), Some(prefix)) => {
            let call = quote_spanned!(ty.span()=> #p::route_command::<Self, #ty>);
            quote! {
                fn route_command<'__a>(
                    &'__a self,
                    ctx: &'__a #p::Context,
                    body: &'__a str,
                ) -> #p::Option<#p::BoxFuture<'__a, #p::HandlerResult>> {
                    #call(self, ctx, #prefix, body)
                }
            }
        }
        _ => quote!(),
    };

    let assert_bot = quote_spanned! {name.span()=>
        const _: () = {
            fn __is_bot<T: ?Sized + #p::Bot>() {}
            #[allow(dead_code)]
            fn __check #impl_g () #where_c {
                __is_bot::<#name #ty_g>();
            }
        };
    };

    quote! {
        #[automatically_derived]
        #[allow(clippy::all, unused_qualifications)]
        impl #impl_g #p::Routing for #name #ty_g #where_c {
            const IGNORE_OWN_GHOSTS: bool = #ignore_own;
            const AUTO_JOIN: bool = #auto_join;
            #order
            #senders
            #rooms
            #custom
            #command
        }
        #assert_bot
    }
}
