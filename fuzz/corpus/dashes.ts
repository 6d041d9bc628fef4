let x = a — b – c;
for (let i = 9; i > 0; i——) {}
x = a––/2/`c`;
const s = 'a — b';
// — comment
