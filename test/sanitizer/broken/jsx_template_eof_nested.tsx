export const List = ({ items }: { items: string[] }) =>
  <ul>
    <>{items.map((item) => <li key={item} title={`Item ${item.length – 1}: ${item}
