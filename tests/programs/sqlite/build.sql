-- Builds a small order database in the file given to sqlrun, then reports on
-- it. Everything is derived from counters so that every run, native or WASI,
-- writes the same rows and the same file.
PRAGMA page_size = 4096;
PRAGMA journal_mode = DELETE;

CREATE TABLE customer (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    city TEXT NOT NULL,
    since INTEGER NOT NULL
);
CREATE TABLE product (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL,
    price REAL NOT NULL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer INTEGER NOT NULL REFERENCES customer(id),
    product INTEGER NOT NULL REFERENCES product(id),
    quantity INTEGER NOT NULL,
    day INTEGER NOT NULL,
    note TEXT
);

BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO customer
SELECT i,
       printf('customer-%05d', (i * 7919) % 100003),
       CASE i % 7 WHEN 0 THEN 'Lyon' WHEN 1 THEN 'Oslo' WHEN 2 THEN 'Quito' WHEN 3 THEN 'Perth'
                  WHEN 4 THEN 'Accra' WHEN 5 THEN 'Hanoi' ELSE 'Tartu' END,
       2000 + i % 25
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
INSERT INTO product
SELECT i, 'product ' || hex(i * 2654435761 % 4294967296), round(((i * 37) % 1000) / 7.0 + 0.99, 2)
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
INSERT INTO orders
SELECT i,
       1 + (i * 48271) % 2000,
       1 + (i * 16807) % 300,
       1 + (i * 31) % 9,
       (i * 13) % 365,
       CASE WHEN i % 17 = 0 THEN 'gift wrap ' || (i % 5) ELSE NULL END
FROM n;
COMMIT;

CREATE INDEX orders_by_customer ON orders(customer, day);
CREATE INDEX orders_by_product ON orders(product);

SELECT 'rows', (SELECT count(*) FROM customer), (SELECT count(*) FROM product), (SELECT count(*) FROM orders);

-- Revenue per city, joins and aggregates over the whole table.
SELECT c.city, count(*), sum(o.quantity), printf('%.2f', sum(o.quantity * p.price))
FROM orders o JOIN customer c ON c.id = o.customer JOIN product p ON p.id = o.product
GROUP BY c.city ORDER BY 4 DESC;

-- The best customers, through the index.
SELECT c.name, count(*) AS n, printf('%.2f', sum(o.quantity * p.price)) AS total
FROM customer c JOIN orders o ON o.customer = c.id JOIN product p ON p.id = o.product
GROUP BY c.id ORDER BY sum(o.quantity * p.price) DESC, c.name LIMIT 10;

-- Window functions: running totals per month for one product.
SELECT day / 30 AS month, count(*), sum(count(*)) OVER (ORDER BY day / 30)
FROM orders WHERE product = 42 GROUP BY month ORDER BY month;

-- Ranking within each city.
SELECT city, name, spent FROM (
    SELECT c.city, c.name, sum(o.quantity) AS spent,
           rank() OVER (PARTITION BY c.city ORDER BY sum(o.quantity) DESC, c.name) AS r
    FROM customer c JOIN orders o ON o.customer = c.id GROUP BY c.id
) WHERE r <= 2 ORDER BY city, r;

-- Updates and deletes inside a transaction, a savepoint rolled back.
BEGIN;
UPDATE product SET price = round(price * 1.1, 2) WHERE id % 3 = 0;
DELETE FROM orders WHERE note IS NOT NULL AND quantity > 7;
SAVEPOINT tentative;
DELETE FROM orders WHERE day < 100;
SELECT 'inside savepoint', count(*) FROM orders;
ROLLBACK TO tentative;
RELEASE tentative;
COMMIT;
SELECT 'after commit', count(*), sum(quantity) FROM orders;

-- JSON and text functions.
SELECT json_group_array(json_object('id', id, 'label', label, 'price', price))
FROM (SELECT * FROM product ORDER BY price DESC, id LIMIT 3);
SELECT upper(substr(name, 1, 8)), length(group_concat(city, ',')), instr(name, '-')
FROM customer WHERE id <= 5 GROUP BY id;

-- Floating-point formatting and maths.
SELECT printf('%.6f|%e|%g', avg(price), stddev, max(price) / min(price))
FROM product, (SELECT sqrt(avg(price * price) - avg(price) * avg(price)) AS stddev FROM product);

-- Full-text search.
CREATE VIRTUAL TABLE notes USING fts5(body);
INSERT INTO notes SELECT 'order ' || id || ' ' || note || ' for ' || customer FROM orders WHERE note IS NOT NULL;
SELECT count(*) FROM notes WHERE notes MATCH 'wrap AND 3';

PRAGMA integrity_check;
VACUUM;
SELECT 'pages', page_count FROM pragma_page_count();
