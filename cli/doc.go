// Package cli is the lienthong command: `lienthong <noun> <verb>` or
// `lienthong <verb>` (groups may nest: `lienthong meta snapshot save`), one
// file per command, on one cobra tree built by Main. Main takes its arguments and
// streams so tests run commands in-process and capture their output.
//
// Results go to stdout (JSON with --json), messages to stderr. Exit codes:
// 0 success, 1 failure, 2 usage error, 3 request rejected by the node (4xx),
// 4 node unreachable or failing (5xx).
//
// cli imports node and its packages, sim/gen and docs/examples.
package cli
