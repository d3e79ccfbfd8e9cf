/*
 * source_feed.h - the `rss` and `atom` source kinds: poll one feed URL and
 * read it with feed_xml (RSS 0.9x/1.0/2.0, Atom 0.3/1.0; either kind reads
 * either format, the name is what the user calls the source).
 *
 * Settings: url is the feed's http:// or https:// address; params_json is
 * empty or a JSON object (no settings are read from it yet). Every poll is a
 * GET of the URL as given. The scheduler (ingest.c) makes it conditional
 * with the last ETag / Last-Modified, so an unchanged feed costs a 304, and
 * drops ids this source emitted recently. The response's Content-Type takes
 * part in choosing the character encoding, and relative links resolve
 * against the feed URL.
 *
 * The cursor is the date of the newest item seen (milliseconds). The first
 * read after a start leaves out items dated at or before it, so a restart
 * does not replay the whole feed; later reads leave repeats to the
 * scheduler's memory of emitted ids, so an item that appears with an older
 * date than the newest (published late, backdated) still counts.
 *
 * A body that is not a feed at all is a poll error saying so in plain
 * words ("not an RSS or Atom feed: the root element is <html>"). A feed
 * that is not well-formed XML but could be read delivers what it holds, and
 * the problem is logged (once for each new message) rather than failing
 * every poll of a feed its owner will never fix.
 *
 * The per-source state belongs to the ingest thread.
 */
#ifndef TRENDD_SOURCE_FEED_H
#define TRENDD_SOURCE_FEED_H

#include "ingest/source_kind.h"

extern const struct source_kind source_kind_rss;
extern const struct source_kind source_kind_atom;

#endif
