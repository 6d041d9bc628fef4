const x = “y”;
