// Messages and formats in the person's language. Every string the portal shows comes from a
// catalog (i18n/<lang>.json); numbers, money, areas and dates are formatted by the browser's Intl
// for the language's locale.

export const languages = [
  { code: 'kk', name: 'Қазақша', locale: 'kk-KZ' },
  { code: 'ru', name: 'Русский', locale: 'ru-RU' },
  { code: 'en', name: 'English', locale: 'en-GB' },
];

let catalog = {};
let fallback = {};
let current = languages[2];

export async function setLanguage(code) {
  current = languages.find((language) => language.code === code) ?? languages[2];
  const load = async (lang) => (await fetch(`/portal/i18n/${lang}.json`)).json();
  [catalog, fallback] = await Promise.all([load(current.code), current.code === 'en' ? Promise.resolve({}) : load('en')]);
  if (current.code === 'en') fallback = catalog;
  document.documentElement.lang = current.code;
  localStorage.setItem('tamga.language', current.code);
}

export function language() { return current.code; }

export function preferredLanguage() {
  const saved = localStorage.getItem('tamga.language');
  if (saved) return saved;
  const browser = (navigator.language || 'en').slice(0, 2);
  return languages.some((language) => language.code === browser) ? browser : 'kk';
}

/// The message `key` with `{name}` placeholders filled from `values`.
export function t(key, values = {}) {
  const text = catalog[key] ?? fallback[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (values[name] === undefined ? `{${name}}` : String(values[name])));
}

export function has(key) { return key in catalog || key in fallback; }

/// Tenge from tiyn (1/100 tenge).
export function money(tiyn) {
  return new Intl.NumberFormat(current.locale, { style: 'currency', currency: 'KZT', minimumFractionDigits: 2 }).format(Number(tiyn) / 100);
}

/// Square metres from hundredths.
export function area(hundredths) {
  return `${new Intl.NumberFormat(current.locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(Number(hundredths) / 100)} ${t('unit.square_metres')}`;
}

export function date(milliseconds) {
  const moment = new Date(Number(milliseconds));
  // Browsers ship no Kazakh month names in their trimmed locale data (Chromium writes "2026 M12 2"),
  // so the catalog names the months and Intl gives only the digits.
  if (current.code === 'kk') {
    const time = new Intl.DateTimeFormat('kk-KZ', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(moment);
    return t('date.long', { year: moment.getFullYear(), month: t(`month.${moment.getMonth() + 1}`), day: moment.getDate(), time });
  }
  return new Intl.DateTimeFormat(current.locale, { dateStyle: 'long', timeStyle: 'short' }).format(moment);
}

export function number(value) {
  return new Intl.NumberFormat(current.locale).format(Number(value));
}

/// A share "n/d" (or "1") as a person reads it.
export function share(text) {
  if (text === '1') return t('share.whole');
  const [numerator, denominator] = String(text).split('/');
  return `${number(numerator)}/${number(denominator)}`;
}

/// What went wrong and what to do next, for an API problem or any other error: the catalog has a
/// message for each code the API and the ledger return; an unknown code falls back to its HTTP
/// status's message, with the node's own detail.
export function explain(error) {
  if (error instanceof SyntaxError) return { message: t('error.malformed_input'), detail: error.message };
  const code = error?.code;
  if (code && has(`error.${code}`)) return { message: t(`error.${code}`), code, detail: error.detail };
  const status = error?.status;
  const generic = status === 401 ? 'error.status.401' : status === 403 ? 'error.status.403' : status === 404 ? 'error.status.404'
    : status === 409 ? 'error.status.409' : status === 429 ? 'error.status.429' : status >= 500 ? 'error.status.5xx'
      : status >= 400 ? 'error.status.4xx' : 'error.network';
  return { message: t(generic), code, detail: error?.detail ?? error?.message };
}
