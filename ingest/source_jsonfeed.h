/*
 * source_jsonfeed.h - the `jsonfeed` source kind: polls a JSON Feed (1.0 or
 * 1.1) document.
 *
 * Settings: url is the feed's address; there are no params. Every poll asks
 * for the whole document (the scheduler's conditional GET makes an unchanged
 * feed cost a 304). The cursor is the newest item date seen
 * (ingest/feed_jsonfeed.h): items dated before it are not read again, and the
 * ingest dedup drops items it emitted already. A feed is one page, so a
 * source is never behind.
 */
#ifndef TRENDD_SOURCE_JSONFEED_H
#define TRENDD_SOURCE_JSONFEED_H

#include "ingest/source_kind.h"

extern const struct source_kind source_kind_jsonfeed;

#endif
