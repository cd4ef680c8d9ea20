/// Identity set by the host's nginx after its own `auth_request` check (trusted-param login mode).
///
/// Only FastCGI params nginx sets itself are read: a client header `X-…` reaches a responder as
/// `HTTP_X_…`, never under these names, so a client cannot supply them. And the params count only
/// with the shared secret nginx sets beside them (`OUTPAINTING_TRUST_SECRET`): any local process
/// that can write to the FastCGI socket could set the others.
public enum TrustedIdentity {
    public static let userIDParam = "OUTPAINTING_USER_ID"
    public static let userRoleParam = "OUTPAINTING_USER_ROLE"
    public static let secretParam = "OUTPAINTING_TRUST_SECRET"

    /// The user the params name, or nil when the secret is wrong or they are missing or malformed
    /// (→ not logged in).
    public static func user(params: [String: String], secret: String) -> LoginUser? {
        guard let given = params[secretParam], ConstantTime.equals(given, secret) else { return nil }
        guard let id = params[userIDParam].flatMap(HostID.parse) else { return nil }
        let role = params[userRoleParam] ?? ""
        if role.isEmpty { return LoginUser(id: id, userRole: "user") }
        guard role.utf8.count <= 32, role.utf8.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || $0 == UInt8(ascii: "_") }) else {
            return nil
        }
        return LoginUser(id: id, userRole: role)
    }
}
