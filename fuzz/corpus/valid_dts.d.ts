/// <reference lib="es2020" />
/**
 * JSDoc with `code`, “quotes”, It’s and an em dash — all in a comment.
 * @example
 * const x = `template ${1}`;
 */
declare module "node:events" {
    interface EventEmitterOptions {
        captureRejections?: boolean | undefined;
    }
    type Listener<K extends string> = `on${Capitalize<K>}`;
    export function once(emitter: unknown, name: string | symbol): Promise<any[]>;
}
declare namespace NodeJS {
    interface Process { readonly argv: string[]; }
}
declare module Foo.Bar.Baz {
    export const x: number;
}
