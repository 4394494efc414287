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
//	GET  /v1/groups/{ref}/members         -> []Member (roles, safety numbers)
//	DELETE /v1/groups/{ref}/members/{member}            -> {}
//	POST /v1/groups/{ref}/members/{member}/promote|demote -> {}
//	POST /v1/groups/{ref}/leave           -> {}
//	POST /v1/groups/{ref}/rename {name}   -> {}
//	POST /v1/groups/{ref}/invite [{expires_seconds, uses}] -> {code, invite?}
//	GET  /v1/groups/{ref}/invites         -> []Invite
//	DELETE /v1/groups/{ref}/invites/{id}  -> {}
//	GET  /v1/profile                      -> {id, safety_number}
//	POST /v1/profile/name {name}          -> {}
//	POST /v1/join {code}                  -> node.GroupInfo
//	GET  /v1/groups/{ref}/messages?limit=&before= -> []node.Message
//	POST /v1/groups/{ref}/messages {text} -> node.Message
//	GET  /v1/events?group=                -> text/event-stream of node.Event
//
// Errors are {"error": "...", "code": "..."}; codes.go maps the node's
// sentinel errors to a code and a status (400, 403, 404, 409, 503, else 500;
// 401 bad token, 403 not from loopback), and Error.Unwrap maps the code back.
// docs/api.md documents it all.
package api
