import * as React from "react";

export function Greeting({ name, items }: { name: string; items: string[] }) {
  const title = “Welcome back”;
  const subtitle = ‘Your list’;
  const remaining = items.length – 1;
  return (
    <section className="greeting" aria-label={“greeting”}>
      <h1 title="It’s – “quoted”">{title}, {name} — it’s “great” to see you</h1>
      <p>{subtitle}: {remaining — 1} more – don’t worry</p>
      <ul>
        {items.map((item, i) => (
          <li key={item} data-index={i – 1}>{item} – {i}</li>
        ))}
      </ul>
    </section>
  );
}
