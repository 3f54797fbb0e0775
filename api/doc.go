// Package api holds the ECI (2018-08-08) request and response types that leci
// accepts and serves, their defaults, their validation rules and ECI error codes,
// and the decoders for the three input forms of a request: JSON, YAML and the
// flattened RPC form the official SDKs send (Container.1.Name=web&...).
//
// The file format of a group (JSON or YAML) is the un-flattened RPC form: every
// key is a parameter name exactly as the API reference spells it, lists of
// objects are arrays of objects (Container.N.Field ↔ {"Container":[{"Field":…}]}),
// lists of scalars are arrays (Command.N ↔ "Command":[…]), nested objects are
// objects (ReadinessProbe.HttpGet.Path), and names that are flat in the reference
// stay flat (LifecyclePreStopHandlerHttpGetPath, SecurityContextRunAsGroup).
//
// The flow for a request is always Decode → SetDefaults → Validate; a request
// that fails any step is refused with an *Error (or Errors) carrying the ECI
// code, and nothing is created.
//
// This package imports nothing else of leci's.
package api
