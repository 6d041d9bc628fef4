export const A = ({ n }: { n: number }) => (
  <div className="a–b" data-x='It’s' {...rest}>
    It’s “fine” — 1 – 2 {n – 1} <>{`t ${<b title={“q”}>‘y’</b>}`}</>
    <Foo<T> bar={<i />} baz=“v” /><svg:rect a:b="c" /><A.B.C>x</A.B.C>
    {/* a – b */}{cond ? <p>“x”</p> : <span>'</span>}
  </div>
);
const f = <T,>(x: T) => x < 3 && y << 2 <= 4;
const g = <const T extends U>(x: T) => x;
let h: <T>(x: T) => T;
