const s = “hello”;
