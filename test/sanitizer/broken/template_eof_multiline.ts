const sql = `
  SELECT *
  FROM users
  WHERE id = ${id}
