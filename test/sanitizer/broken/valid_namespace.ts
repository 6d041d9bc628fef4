declare module Outer.Inner {
  export function f(): void;
}
