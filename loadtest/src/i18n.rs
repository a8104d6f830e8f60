//! Words in the reader's language: English or Simplified Chinese (the
//! article this project teaches from is Chinese, and so are many of its
//! readers).
//!
//! One Fluent catalogue per language (`loadtest/i18n/*.ftl`, Project
//! Fluent's format, read by `fluent-bundle`), shared by the binary and the
//! page: the terminal formats its messages here, and the page receives the
//! same catalogues as JSON ([`page_catalogues`]) and fills in `{ $name }`
//! itself. A text that has to reach the page in the reader's language,
//! whichever that is — a phase's name, its question, its `why` — travels
//! as a [`Msg`] and is written out in every language ([`Localized`]).
//! The glossary and how to add a language: `docs/i18n.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use fluent_syntax::ast;
use serde::{Deserialize, Serialize};

/// A language of the catalogues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    #[value(name = "en")]
    #[serde(rename = "en")]
    En,
    #[value(name = "zh-CN")]
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhCn];

    /// The BCP 47 tag: `en`, `zh-CN`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// The terminal's language when `--lang` is not given: Chinese when the
    /// locale says so (`LC_ALL`, `LC_MESSAGES`, then `LANG`), else English.
    pub fn from_env() -> Lang {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .find(|value| !value.is_empty())
            .unwrap_or_default();
        if locale.starts_with("zh") {
            Lang::ZhCn
        } else {
            Lang::En
        }
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../i18n/en.ftl"),
            Lang::ZhCn => include_str!("../i18n/zh-CN.ftl"),
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

type Bundle = FluentBundle<FluentResource>;

static BUNDLES: LazyLock<Vec<Bundle>> = LazyLock::new(|| Lang::ALL.map(bundle).into());

fn resource(lang: Lang) -> FluentResource {
    FluentResource::try_new(lang.source().to_owned())
        .unwrap_or_else(|(_, errors)| panic!("i18n/{}.ftl does not parse: {errors:?}", lang.tag()))
}

fn bundle(lang: Lang) -> Bundle {
    let id = lang.tag().parse().expect("a valid language tag");
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // No Unicode isolation marks around arguments: a terminal prints them.
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource(lang))
        .unwrap_or_else(|errors| panic!("i18n/{}.ftl: {errors:?}", lang.tag()));
    bundle
}

/// Message `id` in `lang` with `args`; English when `lang` lacks it, the
/// id itself when no catalogue has it (a test checks that none is missing).
pub fn text(lang: Lang, id: &str, args: &[(&str, String)]) -> String {
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        fluent_args.set(*name, value.clone());
    }
    for bundle in [&BUNDLES[lang.index()], &BUNDLES[Lang::En.index()]] {
        if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
            debug_assert!(errors.is_empty(), "{id}: {errors:?}");
            return text.into_owned();
        }
    }
    debug_assert!(false, "no message {id}");
    id.to_owned()
}

/// `text` with arguments written `name = value`:
/// `tr!(lang, "table-stock-units", units = 100)`.
#[macro_export]
macro_rules! tr {
    ($lang:expr, $id:literal $(, $name:ident = $value:expr)* $(,)?) => {
        $crate::i18n::text($lang, $id, &[$((stringify!($name), ($value).to_string())),*])
    };
}

/// A text to be written in whichever language its reader reads: a message
/// id and its arguments, which may be messages or lists of messages
/// themselves (a `why` names its cause). `Display` writes English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    id: &'static str,
    args: Vec<(&'static str, Arg)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    Text(String),
    Msg(Msg),
    List(Vec<Msg>),
}

impl Msg {
    pub fn new(id: &'static str) -> Self {
        Msg { id, args: Vec::new() }
    }

    /// With argument `name`: a figure or a name, the same in every language.
    pub fn arg(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, Arg::Text(value.to_string())));
        self
    }

    /// With argument `name`: another message, in the same language.
    pub fn with(mut self, name: &'static str, msg: Msg) -> Self {
        self.args.push((name, Arg::Msg(msg)));
        self
    }

    /// With argument `name`: messages joined by the language's comma.
    pub fn list(mut self, name: &'static str, msgs: Vec<Msg>) -> Self {
        self.args.push((name, Arg::List(msgs)));
        self
    }

    pub fn id(&self) -> &'static str {
        self.id
    }

    pub fn text(&self, lang: Lang) -> String {
        let args: Vec<(&str, String)> = self
            .args
            .iter()
            .map(|(name, arg)| {
                let value = match arg {
                    Arg::Text(text) => text.clone(),
                    Arg::Msg(msg) => msg.text(lang),
                    Arg::List(msgs) => {
                        let parts: Vec<String> = msgs.iter().map(|m| m.text(lang)).collect();
                        parts.join(&text(lang, "list-separator", &[]))
                    }
                };
                (*name, value)
            })
            .collect();
        text(lang, self.id, &args)
    }

    /// This text in every language.
    pub fn every(&self) -> Localized {
        Localized(
            Lang::ALL
                .iter()
                .map(|&l| (l.tag().to_owned(), self.text(l)))
                .collect(),
        )
    }
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text(Lang::En))
    }
}

/// One text in every language, by tag: `{"en": "…", "zh-CN": "…"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Localized(BTreeMap<String, String>);

impl Localized {
    /// The text in `lang`, or in English, or nothing.
    pub fn get(&self, lang: Lang) -> Option<&str> {
        self.0
            .get(lang.tag())
            .or_else(|| self.0.get(Lang::En.tag()))
            .map(String::as_str)
    }
}

/// Every catalogue's plain messages for the page, as JSON:
/// `{"en": {"id": "text with {name}"}, "zh-CN": {…}}`. A message the page
/// can use is text and `{ $name }` only; one with selectors (plurals) is
/// the terminal's and is left out.
pub fn page_catalogues() -> String {
    let catalogues: BTreeMap<&str, BTreeMap<String, String>> =
        Lang::ALL.iter().map(|&l| (l.tag(), plain_messages(l))).collect();
    serde_json::to_string(&catalogues).expect("catalogues serialize")
}

/// `lang`'s messages that are text and variables only, `{name}` for each
/// variable.
pub fn plain_messages(lang: Lang) -> BTreeMap<String, String> {
    let resource = resource(lang);
    resource
        .entries()
        .filter_map(|entry| match entry {
            ast::Entry::Message(message) => {
                let text = plain(message.value.as_ref()?)?;
                Some((message.id.name.to_owned(), text))
            }
            _ => None,
        })
        .collect()
}

fn plain(pattern: &ast::Pattern<&str>) -> Option<String> {
    let mut out = String::new();
    for element in &pattern.elements {
        match element {
            ast::PatternElement::TextElement { value } => out.push_str(value),
            ast::PatternElement::Placeable {
                expression: ast::Expression::Inline(ast::InlineExpression::VariableReference { id }),
            } => {
                out.push('{');
                out.push_str(id.name);
                out.push('}');
            }
            ast::PatternElement::Placeable {
                expression: ast::Expression::Inline(ast::InlineExpression::StringLiteral { value }),
            } if !value.contains(['{', '}']) => out.push_str(value),
            _ => return None,
        }
    }
    Some(out)
}

/// Every message id of `lang`'s catalogue.
pub fn message_ids(lang: Lang) -> Vec<String> {
    resource(lang)
        .entries()
        .filter_map(|entry| match entry {
            ast::Entry::Message(message) => Some(message.id.name.to_owned()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
