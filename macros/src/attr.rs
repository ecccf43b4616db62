//! Attribute parsing shared by the derives: one attribute name per target,
//! known keys only, each key once, and doc comments.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprArray, Lit, LitStr};

/// The keys an attribute accepts, and those already given.
pub struct Keys {
    attr: &'static str,
    allowed: &'static [&'static str],
    seen: Vec<String>,
}

impl Keys {
    pub fn new(attr: &'static str, allowed: &'static [&'static str]) -> Self {
        Keys {
            attr,
            allowed,
            seen: Vec::new(),
        }
    }

    /// Calls `f` for every key of every `#[<attr>(...)]` in `attrs`, after
    /// checking that the key is known and not given before.
    pub fn parse(
        &mut self,
        attrs: &[Attribute],
        mut f: impl FnMut(&str, &ParseNestedMeta) -> syn::Result<()>,
    ) -> syn::Result<()> {
        for attr in attrs.iter().filter(|a| a.path().is_ident(self.attr)) {
            attr.parse_nested_meta(|meta| {
                let key = self.check(&meta)?;
                f(&key, &meta)
            })?;
        }
        Ok(())
    }

    fn check(&mut self, meta: &ParseNestedMeta) -> syn::Result<String> {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        if !self.allowed.contains(&key.as_str()) {
            let expected: Vec<String> = self.allowed.iter().map(|k| format!("`{k}`")).collect();
            let shown = if key.is_empty() {
                "this key".to_owned()
            } else {
                format!("`{key}`")
            };
            return Err(meta.error(format!(
                "unknown key {shown} in `#[{}(...)]`; expected one of: {}",
                self.attr,
                expected.join(", ")
            )));
        }
        if self.seen.contains(&key) {
            return Err(meta.error(format!(
                "`{key}` is given twice in `#[{}(...)]`; keep one",
                self.attr
            )));
        }
        self.seen.push(key.clone());
        Ok(key)
    }
}

/// `key` alone; `key = …` is refused with the fix.
pub fn flag(key: &str, meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) || meta.input.peek(syn::token::Paren) {
        return Err(meta.error(format!(
            "`{key}` is a flag: write `{key}` alone, without a value"
        )));
    }
    Ok(())
}

/// `key = "text"`.
pub fn string(key: &str, meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    if !meta.input.peek(syn::Token![=]) {
        return Err(meta.error(format!("`{key}` needs a value: `{key} = \"…\"`")));
    }
    meta.value()?.parse::<LitStr>()
}

/// `key = ["a", "b"]`.
pub fn strings(key: &str, meta: &ParseNestedMeta) -> syn::Result<Vec<LitStr>> {
    if !meta.input.peek(syn::Token![=]) {
        return Err(meta.error(format!("`{key}` needs a list: `{key} = [\"…\", \"…\"]`")));
    }
    let array: ExprArray = meta.value()?.parse()?;
    array
        .elems
        .iter()
        .map(|e| match e {
            Expr::Lit(l) => match &l.lit {
                Lit::Str(s) => Ok(s.clone()),
                other => Err(syn::Error::new_spanned(other, "expected a string literal")),
            },
            other => Err(syn::Error::new_spanned(other, "expected a string literal")),
        })
        .collect()
}

/// The doc comment, lines trimmed, blank lines kept as paragraph breaks.
pub fn doc(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        if let syn::Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
            {
                for line in s.value().lines() {
                    lines.push(line.trim().to_owned());
                }
            }
        }
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    while lines.first().is_some_and(String::is_empty) {
        lines.remove(0);
    }
    lines.join("\n")
}

/// Collects errors so that all of them are reported at once.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub fn at(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }

    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}
