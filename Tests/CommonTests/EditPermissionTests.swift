import Testing
@testable import Common

@Suite("the host's edit-picture rule")
struct EditPermissionTests {
    static let owner = LoginUser(id: 1, userRole: "user")
    static let admin = LoginUser(id: 3, userRole: "admin")
    static let stranger = LoginUser(id: 2, userRole: "user")

    static func picture(space: PictureFacts.Space?, spaceID: Int64? = nil, role: String? = nil) -> PictureFacts {
        PictureFacts(pictureID: 10, uploaderID: 1, url: "http://x/p.png", spaceID: spaceID ?? (space == nil ? nil : 5),
                     space: space, memberRole: role)
    }

    static let privateSpace = PictureFacts.Space(spaceType: 0, ownerID: 1)
    static let teamSpace = PictureFacts.Space(spaceType: 1, ownerID: 1)

    @Test("the rule table", arguments: [
        // public gallery
        (owner, picture(space: nil), EditPermission.Decision.allowed),
        (admin, picture(space: nil), .allowed),
        (stranger, picture(space: nil), .refused),
        // private space: the owner only, a site admin is not enough
        (owner, picture(space: privateSpace), .allowed),
        (admin, picture(space: privateSpace), .refused),
        (stranger, picture(space: privateSpace), .refused),
        // team space: editors and admins of the space
        (stranger, picture(space: teamSpace, role: "admin"), .allowed),
        (stranger, picture(space: teamSpace, role: "editor"), .allowed),
        (stranger, picture(space: teamSpace, role: "viewer"), .refused),
        (stranger, picture(space: teamSpace, role: nil), .refused),
        (admin, picture(space: teamSpace, role: nil), .refused),
        // a picture whose space is missing or deleted
        (owner, picture(space: nil, spaceID: 99), .spaceNotFound),
    ])
    func table(user: LoginUser, picture: PictureFacts, expected: EditPermission.Decision) {
        #expect(EditPermission.decide(user: user, picture: picture) == expected)
    }

    @Test("a missing picture is 40400, a refusal 40101")
    func codes() {
        #expect(EditPermission.decide(user: Self.owner, picture: nil) == .pictureNotFound)
        #expect(EditPermission.businessError(for: .pictureNotFound)?.code == .notFound)
        #expect(EditPermission.businessError(for: .spaceNotFound)?.code == .notFound)
        #expect(EditPermission.businessError(for: .refused)?.code == .noAuth)
        #expect(EditPermission.businessError(for: .allowed) == nil)
    }
}
