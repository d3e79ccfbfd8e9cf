/*
 * db.h - trendd's SQLite database: schema and migrations, the sources table,
 * and the writer thread that turns db messages (term-minute counts, minute
 * snapshots, source cursors and status) into batched transactions.
 *
 * Before db_writer_start() the calling thread may use the load/upsert
 * functions; after it, only the writer thread touches the write connection.
 * The writer publishes its health (last error, queue depth, rows written) as
 * a JSON object on bus->db_status.
 */
#ifndef TRENDD_DB_H
#define TRENDD_DB_H

#include <stddef.h>

#include "core/bus.h"
#include "core/source.h"

struct db;

/* Opens (creating if needed) and migrates the database. WAL mode. */
int db_open(struct db **out, const char *path, char *err, size_t errlen);

/* All sources, ordered by id; free with db_sources_free(). */
int db_sources_load(struct db *db, struct source_config **out, size_t *n);
void db_sources_free(struct source_config *v, size_t n);
/* Inserts or updates the source with c->name; sets c->id. Keeps the stored cursor
 * unless c->cursor is non-empty. */
int db_source_upsert(struct db *db, struct source_config *c);

/* Starts the writer thread consuming bus->db. */
int db_writer_start(struct db *db, struct bus *bus);
/* Drains the queue, stops the writer (if started) and closes the database. */
void db_close(struct db *db);

#endif
