-- Run as a second process on the database build.sql left: the data must
-- come back from the file. The last statement fails on purpose, so sqlrun
-- exits 1 and the exit codes are compared too.
SELECT count(*), sum(quantity), min(day), max(day) FROM orders;
SELECT name, city FROM customer WHERE id IN (1, 1000, 2000) ORDER BY id;
SELECT printf('%.2f', sum(price)) FROM product;
SELECT count(*) FROM notes WHERE notes MATCH 'gift';
INSERT INTO customer VALUES (1, 'duplicate', 'Nowhere', 2024);
