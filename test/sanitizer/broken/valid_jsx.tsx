import * as React from "react";

type Render = <T>(item: T) => React.ReactNode;

interface Props<T> {
  items: T[];
  render: Render;
  compare?: <U extends T>(a: U, b: U) => number;
}

const identity = <T,>(x: T): T => x;
const pick = <T extends object, K extends keyof T>(o: T, k: K) => o[k];
const first = <const T extends readonly unknown[]>(xs: T) => xs[0];

export function List<T>({ items, render }: Props<T>) {
  const n = items.length < 10 ? items.length << 1 : items.length >> 1;
  return (
    <>
      <p className="note" data-tip='It’s – “fine”' title="a — b">
        It’s “fine” – {n} items — don’t worry ‘really’ // not a comment
        `not a template` and 'not a string'
      </p>
      {/* a – comment */}
      <ul>
        {items.map((item, i) => (
          <li key={i} {...{ role: "listitem" }}>{render(identity(item))}</li>
        ))}
      </ul>
      <Generic<string> value="x" />
      <svg:rect xlink:href="#a" />
      {n > 0 ? <span>1 – 2</span> : <em>“none”</em>}
      {`template ${<b>bold – text</b>} end`}
    </>
  );
}

declare function Generic<T>(props: { value: T }): JSX.Element;
void pick;
void first;
