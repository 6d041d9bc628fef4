const a = x / y / z;
const b = /[/"'`—]/g.test(s) ? 1 : 2;
if (a) /'/.exec(s);
while (b) /`/.exec(s);
const c = (a + b) / 2;
const d = arr[0] / arr[1];
const e = i++ / 2;
const f = m.get(k)! / 3;
function g() { return /“/; }
const h = typeof /x/;
const i2 = obj.return / 4;
const j = `${a / b}` + `${/`/.source}`;
