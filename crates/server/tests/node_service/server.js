// A small express + pg service for Sightline's tests, run with `node --require ./otel.js server.js`.
//
// PORT — where it listens (127.0.0.1); the database from the standard PG* variables (PGHOST, PGPORT,
// PGUSER, PGPASSWORD, PGDATABASE), read by `pg` itself; SLOW_SECONDS — how long GET /slow sleeps (1.5).
//
// GET /fast  — one quick SELECT
// GET /slow  — SELECT pg_sleep($1): long enough for Sightline's PostgreSQL sampler to see the session
// GET /error — throws: a 500 and an error transaction
'use strict';

const express = require('express');
const { Pool } = require('pg');

const pool = new Pool({ max: 4 });
const slowSeconds = Number(process.env.SLOW_SECONDS || '1.5');
const app = express();

app.get('/fast', async (req, res, next) => {
  try {
    const r = await pool.query('SELECT count(*)::int AS n FROM pg_class WHERE relkind = $1', ['r']);
    res.json({ tables: r.rows[0].n });
  } catch (err) {
    next(err);
  }
});

app.get('/slow', async (req, res, next) => {
  try {
    await pool.query('SELECT pg_sleep($1)', [slowSeconds]);
    res.json({ slept: slowSeconds });
  } catch (err) {
    next(err);
  }
});

app.get('/error', () => {
  throw new Error('the /error endpoint always fails');
});

app.use((err, req, res, next) => {
  // Keep the express default's status (500) and say why, as a JSON body.
  if (res.headersSent) return next(err);
  res.status(500).json({ error: err.message });
});

const port = Number(process.env.PORT || '3000');
const server = app.listen(port, '127.0.0.1', () => {
  console.log(`node service listening on 127.0.0.1:${port}`);
});
global.__closeServer = (cb) => {
  server.close(() => pool.end().then(cb, cb));
  server.closeAllConnections?.();
};
