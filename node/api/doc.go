// Package api is a node's HTTP API, JSON under /v1: entity writes and reads,
// the change feed (also as server-sent events), the data dictionary,
// datasets, status, health and Prometheus metrics. docs/api.md is its
// reference.
//
// Every request but /healthz needs a bearer token whose role (read, write,
// admin) covers the route. Errors are {"error":{"code","message","field","rule"}}
// with a status that says what kind of failure it was; a rejected request
// changes nothing.
//
// api imports node/data, node/meta and node/dict; it does not construct them.
package api
