// Valid TypeScript: nothing here may change.
declare module Foo.Bar {
  export const x: number;
}
declare module "node:fs" {}
const s = 'It’s “fine” — really';
const r = /['"`—]/g;
const half = 10 / 2 / 5;
/* a ` backtick in a comment */
// and ‘quotes’ in a comment
const t = `a ${`nested ${half}`} b`;
if (half) /`/.test(s);
export { s, r, t };
