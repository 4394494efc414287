// Package api is the control API of a running Parley node: HTTP+JSON on a
// loopback address, authenticated by a bearer token that the node writes to
// its profile directory. Server serves it; Client calls it.
//
// Endpoints:
//
//	GET  /v1/status                       -> node.Status
//	GET  /v1/peers                        -> []node.PeerInfo
//	GET  /v1/groups                       -> []node.GroupInfo
//	POST /v1/groups {name, history_from_join} -> node.GroupInfo
//	GET  /v1/groups/{ref}                 -> node.GroupInfo
//	GET  /v1/groups/{ref}/members         -> []node.Member
//	POST /v1/groups/{ref}/invite          -> {code}
//	POST /v1/join {code}                  -> node.GroupInfo
//	GET  /v1/groups/{ref}/messages?limit=&before= -> []node.Message
//	POST /v1/groups/{ref}/messages {text} -> node.Message
//	GET  /v1/events?group=                -> text/event-stream of node.Event
//
// Errors are {"error": "..."} with status 400 (invalid input, bad invite,
// ambiguous name), 404 (group not found), 401 (bad token), 403 (not from
// loopback) or 500.
package api
