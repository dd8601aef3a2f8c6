// Package dict owns the data dictionary format: entity types (the schemas of
// shared entities: key format, fields, each field's type and constraints) and
// datasets (a named set of fields of one entity type, optionally limited to a
// key prefix, with one owner and a reader list). It parses and checks both,
// compiles an entity type into a Validator that checks keys, field values and
// whole record writes, and decides whether a changed entity type may keep its
// version number (Compatible).
//
// The format is described for users in docs/data-dictionary.md; keep the two
// in step.
//
// dict is pure: no I/O, no clocks, no goroutines. It must not import any other
// lienthong package; the metadata layer, the API and the replication engine
// import it.
package dict
