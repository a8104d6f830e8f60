// The page's words, in the reader's language: the catalogues the load
// tester embeds as I18N (loadtest/i18n/*.ftl — the same the terminal uses,
// turned into plain patterns by loadtest/src/i18n.rs). The language is the
// address's `?lang=`, else the run's `--lang`, else the browser's, else
// English. Texts made by the run (a phase's name, its question, its why)
// come in every language in the events' `…_i18n` fields. Loaded first.
"use strict";

// Fonts that have Chinese glyphs wherever the page is opened: macOS,
// Windows, Linux (the scripts install WenQuanYi Micro Hei for the tests).
const FONTS = `system-ui, -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", ` +
  `"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "DejaVu Sans", sans-serif`;
const font = (px, bold) => `${bold ? "bold " : ""}${px}px ${FONTS}`;

let LANG = pickLang(null);

function pickLang(runLang) {
  const asked = new URLSearchParams(location.search).get("lang");
  const wanted = [asked, runLang, ...(navigator.languages || [navigator.language])];
  for (const tag of wanted.filter(Boolean)) {
    const lang = catalogueFor(tag);
    if (lang) return lang;
  }
  return "en";
}

// `zh`, `zh-Hans-CN`, `zh-TW` → zh-CN (the one Chinese catalogue); `en-GB` → en.
function catalogueFor(tag) {
  if (I18N[tag]) return tag;
  const base = tag.toLowerCase().split("-")[0];
  return Object.keys(I18N).find((lang) => lang.toLowerCase().split("-")[0] === base) || null;
}

// Message `id` with `{name}` filled in from `args`.
function t(id, args = {}) {
  const text = (I18N[LANG] && I18N[LANG][id]) ?? I18N.en[id] ?? id;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in args ? String(args[name]) : ""));
}

// A text an event carries in every language: `obj.label_i18n[LANG]`, or
// `obj.label` from a report written before there were any.
function loc(obj, field) {
  const every = obj && obj[field + "_i18n"];
  return (every && (every[LANG] || every.en)) || (obj ? obj[field] : "");
}

// The page's fixed words: elements marked data-i18n (text), data-i18n-title
// and data-i18n-label (aria-label).
function localize() {
  document.documentElement.lang = LANG;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
  document.querySelectorAll("[data-i18n-label]").forEach((el) => el.setAttribute("aria-label", t(el.dataset.i18nLabel)));
}
