/*
 * tools.h - the subcommands of the trendd binary besides the daemon.
 * Each takes argv starting at the subcommand name and returns the exit code.
 */
#ifndef TRENDD_TOOLS_H
#define TRENDD_TOOLS_H

int tool_parse(int argc, char **argv);      /* trendd parse [--format F] FILE */
int tool_tokenize(int argc, char **argv);   /* trendd tokenize < lines */
int tool_sentiment(int argc, char **argv);  /* trendd sentiment < lines */

#endif
