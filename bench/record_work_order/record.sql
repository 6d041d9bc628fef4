-- (b) record_work_order with realistic arguments: 4 proposers, scores over
-- all bands, 40% failures with 5 error samples of ~200 characters, 12%
-- partials, ids on every call.
\set r random(1, 100)
\set n random(1, 9000000000000000000)
\set p random(1, 4)
\set s random(0, 1000)
\if :r <= 40
SELECT record_work_order('model-' || :p, :s / 1000.0, 5, 4, false, '{TS2345,TS2322,TS7006,TS2339,TS1443}', '[{"code": "TS2345", "message": "Argument of type ''string | undefined'' is not assignable to parameter of type ''string''. Type ''undefined'' is not assignable to type ''string''. Check the call to fetchUser in src/api/users.ts."}, {"code": "TS2322", "message": "Type ''{ id: number; name: string; }'' is not assignable to type ''User''. Object literal may only specify known properties, and ''name'' does not exist in type ''User'' as declared in models."}, {"code": "TS7006", "message": "Parameter ''event'' implicitly has an ''any'' type. Add an explicit annotation such as React.ChangeEvent<HTMLInputElement> to the handler declared in components/Form.tsx line 42."}, {"code": "TS2339", "message": "Property ''data'' does not exist on type ''Promise<Response>''. Did you forget to use ''await''? The value is read in services/orders.ts where the promise is returned by fetchOrders()."}, {"code": "TS1443", "message": "Module declaration names may only use '' or \" quoted strings. The declaration of module `my-lib` in types/global.d.ts uses a template literal for its name here."}]'::jsonb, 'model-' || :p || '/v1', '{TS2345@1,TS2322@1}', '{}', 'wo-' || :client_id || '-' || :n);
\elif :r <= 52
SELECT record_work_order('model-' || :p, :s / 1000.0, 10, 2, false, '{TS2345,TS2322}', '[]'::jsonb, 'model-' || :p || '/v1', '{TS2345@1,TS2322@1}', '{}', 'wo-' || :client_id || '-' || :n);
\else
SELECT record_work_order('model-' || :p, :s / 1000.0, 3, 0, false, '{}', '[]'::jsonb, 'model-' || :p || '/v1', '{TS2345@1,TS2322@1}', '{}', 'wo-' || :client_id || '-' || :n);
\endif
