declare module @scope/pkg { }
declare module my-lib;
declare module ./rel {}
declare module foo/bar
declare module *.svg {}
declare module node:fs {}
declare module `bt` {}
declare module `it's` {}
declare module `a${b}` {}
declare module Foo.Bar {}
declare module "ok" {}
declare module 'ok2' {}
export declare module x-y {}
declare   module	café-lib {}
declare module
  late {}
