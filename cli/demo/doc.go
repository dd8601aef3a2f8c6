// Package demo runs lienthong demo up and demo stop: a local federation (a
// seed, two provinces, a ministry) of real node processes, started with the
// launcher in cli/internal/fed, loaded with sample data through the CLI
// binary, and left running for the operator to try.
//
// demo must not import the cli package: it drives the binary instead.
package demo
