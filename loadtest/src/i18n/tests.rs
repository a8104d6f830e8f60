use std::collections::BTreeSet;

use super::*;

/// The variables message `id` uses in `lang`'s catalogue.
fn variables(lang: Lang) -> BTreeMap<String, BTreeSet<String>> {
    let resource = resource(lang);
    let mut out = BTreeMap::new();
    for entry in resource.entries() {
        if let ast::Entry::Message(message) = entry {
            let mut names = BTreeSet::new();
            for element in message.value.iter().flat_map(|p| &p.elements) {
                if let ast::PatternElement::Placeable {
                    expression: ast::Expression::Inline(ast::InlineExpression::VariableReference { id }),
                } = element
                {
                    names.insert(id.name.to_owned());
                }
            }
            out.insert(message.id.name.to_owned(), names);
        }
    }
    out
}

#[test]
fn every_catalogue_has_every_message_with_the_same_variables() {
    let english = variables(Lang::En);
    for lang in Lang::ALL {
        let other = variables(lang);
        let missing: Vec<_> = english.keys().filter(|id| !other.contains_key(*id)).collect();
        let extra: Vec<_> = other.keys().filter(|id| !english.contains_key(*id)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{lang}: missing {missing:?}, extra {extra:?}"
        );
        for (id, names) in &english {
            assert_eq!(&other[id], names, "{lang}: {id} uses other variables");
        }
    }
}

#[test]
fn the_pages_messages_are_plain_text_in_every_language() {
    for lang in Lang::ALL {
        let plain = plain_messages(lang);
        for id in message_ids(lang).iter().filter(|id| id.starts_with("page-")) {
            assert!(
                plain.contains_key(id),
                "{lang}: {id} has a selector or a function"
            );
        }
    }
    let json: serde_json::Value = serde_json::from_str(&page_catalogues()).unwrap();
    assert_eq!(json["en"]["page-sold-of"], "of {stock} units sold");
    assert_eq!(json["zh-CN"]["page-overview"], "总览");
}

/// Words a Chinese reader sees untranslated on purpose: names of products,
/// backends and rungs' settings, HTTP and SQL, flags.
const NAMES: [&str; 20] = [
    "stocklock",
    "redis",
    "Redis",
    "etcd",
    "PostgreSQL",
    "postgres",
    "redlock",
    "SET",
    "NX",
    "TTL",
    "UPDATE",
    "SKU",
    "JSON",
    "lock_lost",
    "advisory",
    "lock",
    "wide",
    "p50",
    "p99",
    "P",
];

#[test]
fn no_english_is_left_in_the_chinese_catalogue() {
    // Every message is plain today; one with a selector would need its
    // variants read here too.
    let messages = plain_messages(Lang::ZhCn);
    assert_eq!(messages.len(), message_ids(Lang::ZhCn).len());
    for (id, text) in messages {
        // Flags (`--ttl-ms`) are code.
        let text: String = text
            .split(' ')
            .filter(|w| !w.starts_with("--"))
            .collect::<Vec<_>>()
            .join(" ");
        let words: Vec<&str> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
            .filter(|w| !NAMES.contains(w))
            .filter(|w| !text.contains(&format!("{{{w}}}")) && !text.contains(&format!("${w}")))
            .collect();
        assert!(words.is_empty(), "{id}: English left: {words:?} in {text:?}");
    }
}

#[test]
fn a_message_names_its_parts_in_the_same_language() {
    let why = Msg::new("why-recovery")
        .with(
            "why",
            Msg::new("why-paused-alone").with("cause", Msg::new("cause-none")),
        )
        .arg("wait", "1.5");
    assert_eq!(
        why.to_string(),
        "no fault was injected; no second holder got in while they were; the longest wait for a sale was 1.5 s"
    );
    assert_eq!(
        why.text(Lang::ZhCn),
        "没有注入故障；在它们暂停期间，没有第二个持有者进来；买家最长等了 1.5 秒才成交"
    );
    let list = Msg::new("cause-none").list("x", vec![]);
    assert_eq!(list.every().get(Lang::ZhCn), Some("没有注入故障"));
    let faults = Msg::new("page-why").arg("phase", "p").list(
        "why",
        vec![
            Msg::new("fault-kill").arg("server", "redis"),
            Msg::new("fault-start").arg("server", "redis"),
        ],
    );
    assert_eq!(faults.text(Lang::En), "p: kill redis, start redis");
    assert_eq!(faults.text(Lang::ZhCn), "p：杀掉 redis，启动 redis");
}

#[test]
fn the_table_macro_formats_figures() {
    assert_eq!(tr!(Lang::En, "table-stock-units", units = 100), "100 units");
    assert_eq!(tr!(Lang::ZhCn, "table-stock-units", units = 100), "100 件");
}
