package clientapi

// routes is the route table of the client-server API: one line per
// endpoint, with its auth kind. Unknown paths and wrong methods are answered
// by ServeHTTP with M_UNRECOGNIZED.
func (a *API) routes() {
	const (
		v3 = "/_matrix/client/v3"
		v1 = "/_matrix/client/v1"
	)
	a.public("GET /.well-known/matrix/client", a.wellKnownClient)
	a.public("GET /.well-known/matrix/server", a.wellKnownServer)
	a.public("GET /_matrix/client/versions", a.versions)
	a.user("GET "+v3+"/capabilities", a.capabilities)

	a.limitedPublic("POST "+v3+"/register", a.register)
	a.public("GET "+v3+"/register/available", a.registerAvailable)
	a.public("GET "+v1+"/register/m.login.registration_token/validity", a.registrationTokenValidity)
	a.public("GET /_synapse/admin/v1/register", a.sharedSecretNonce)
	a.limitedPublic("POST /_synapse/admin/v1/register", a.sharedSecretRegister)

	a.public("GET "+v3+"/login", a.loginFlows)
	a.limitedPublic("POST "+v3+"/login", a.login)
	a.limitedPublic("POST "+v3+"/refresh", a.refresh)
	a.user("POST "+v1+"/login/get_token", a.getLoginToken)
	a.guest("POST "+v3+"/logout", a.logout)
	a.guest("POST "+v3+"/logout/all", a.logoutAll)
	a.guest("GET "+v3+"/account/whoami", a.whoami)
	a.user("POST "+v3+"/account/password", a.changePassword)
	a.user("POST "+v3+"/account/deactivate", a.deactivate)

	a.guest("GET "+v3+"/devices", a.listDevices)
	a.guest("GET "+v3+"/devices/{deviceId}", a.getDevice)
	a.guest("PUT "+v3+"/devices/{deviceId}", a.putDevice)
	a.user("DELETE "+v3+"/devices/{deviceId}", a.deleteDevice)
	a.user("POST "+v3+"/delete_devices", a.deleteDevices)

	a.public("GET "+v3+"/profile/{userId}", a.getProfile)
	a.public("GET "+v3+"/profile/{userId}/{field}", a.getProfileField)
	a.guest("PUT "+v3+"/profile/{userId}/{field}", a.putProfileField)

	a.guest("GET "+v3+"/user/{userId}/account_data/{type}", a.getAccountData)
	a.guest("PUT "+v3+"/user/{userId}/account_data/{type}", a.putAccountData)
	a.guest("GET "+v3+"/user/{userId}/rooms/{roomId}/account_data/{type}", a.getAccountData)
	a.guest("PUT "+v3+"/user/{userId}/rooms/{roomId}/account_data/{type}", a.putAccountData)
	a.guest("POST "+v3+"/user/{userId}/filter", a.postFilter)
	a.guest("GET "+v3+"/user/{userId}/filter/{filterId}", a.getFilter)

	a.user("POST "+v3+"/createRoom", a.createRoom)
	a.guest("POST "+v3+"/rooms/{roomId}/join", a.joinRoomByID)
	a.guest("POST "+v3+"/join/{roomIdOrAlias}", a.joinRoom)
	a.guest("POST "+v3+"/rooms/{roomId}/leave", a.leaveRoom)
	a.user("POST "+v3+"/rooms/{roomId}/invite", a.membershipOf("invite"))
	a.user("POST "+v3+"/rooms/{roomId}/kick", a.membershipOf("leave"))
	a.user("POST "+v3+"/rooms/{roomId}/ban", a.membershipOf("ban"))
	a.user("POST "+v3+"/rooms/{roomId}/unban", a.membershipOf("unban"))
	a.guest("PUT "+v3+"/rooms/{roomId}/send/{eventType}/{txnId}", a.sendEvent)
	a.user("PUT "+v3+"/rooms/{roomId}/state/{eventType}", a.putState)
	a.user("PUT "+v3+"/rooms/{roomId}/state/{eventType}/{$}", a.putState)
	a.user("PUT "+v3+"/rooms/{roomId}/state/{eventType}/{stateKey}", a.putState)
	a.guest("GET "+v3+"/rooms/{roomId}/state", a.getAllState)
	a.guest("GET "+v3+"/rooms/{roomId}/state/{eventType}", a.getState)
	a.guest("GET "+v3+"/rooms/{roomId}/state/{eventType}/{$}", a.getState)
	a.guest("GET "+v3+"/rooms/{roomId}/state/{eventType}/{stateKey}", a.getState)
	a.user("PUT "+v3+"/rooms/{roomId}/redact/{eventId}/{txnId}", a.redactEvent)
	a.guest("GET "+v3+"/rooms/{roomId}/event/{eventId}", a.getEvent)
	a.guest("GET "+v3+"/rooms/{roomId}/members", a.getMembers)
	a.guest("GET "+v3+"/rooms/{roomId}/joined_members", a.getJoinedMembers)
	a.guest("GET "+v3+"/rooms/{roomId}/messages", a.messages)
	a.guest("GET "+v3+"/joined_rooms", a.joinedRooms)
	a.guest("GET "+v3+"/rooms/{roomId}/context/{eventId}", a.eventContext)
	a.guest("GET "+v1+"/rooms/{roomId}/relations/{eventId}", a.relations)
	a.guest("GET "+v1+"/rooms/{roomId}/relations/{eventId}/{relType}", a.relations)
	a.guest("GET "+v1+"/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}", a.relations)
	a.guest("GET "+v1+"/rooms/{roomId}/threads", a.threads)
	a.guest("GET "+v1+"/rooms/{roomId}/timestamp_to_event", a.timestampToEvent)
}
