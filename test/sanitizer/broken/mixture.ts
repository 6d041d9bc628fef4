declare module @acme/widgets {
  export const label: string;
}
const ok = 'It’s fine';
const ok2 = "“quoted” — ok";
// a comment — with a dash and a `backtick`
const bad = “broken”;
const worse = ‘Don’t’;
const diff = 5 — 2;
const re = /[“”‘’—]/g;
const msg = `diff is ${diff}
