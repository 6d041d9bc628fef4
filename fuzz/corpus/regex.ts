const r = /["`—]/g;
if (x) /a[/]b/.test(y);
x = a / b / c;
// `c`
/* ` */
