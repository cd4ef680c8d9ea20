import Foundation
import Testing
@testable import Common

extension Integration {
/// The host's contract through nginx: every bad input answered right (HTTP 200 + envelope code, or
/// nginx's own 4xx), and the authorization matrix of HOST-CONTRACT.md.
@Suite("contract: inputs and authorization through nginx")
struct ContractTests {
    struct Case: CustomStringConvertible, Sendable {
        let name: String
        let body: String
        let code: Int64
        let messageContains: String?
        var description: String { name }
    }

    static let badBodyCases: [Case] = [
        Case(name: "empty body", body: "", code: 40000, messageContains: nil),
        Case(name: "not JSON", body: "pictureId=1", code: 40000, messageContains: nil),
        Case(name: "array", body: "[]", code: 40000, messageContains: nil),
        Case(name: "null", body: "null", code: 40000, messageContains: nil),
        Case(name: "string", body: #""x""#, code: 40000, messageContains: nil),
        Case(name: "number", body: "1", code: 40000, messageContains: nil),
        Case(name: "no pictureId", body: "{}", code: 40000, messageContains: "pictureId"),
        Case(name: "text id", body: #"{"pictureId":"abc"}"#, code: 40000, messageContains: "pictureId"),
        Case(name: "negative id", body: #"{"pictureId":-5}"#, code: 40000, messageContains: "pictureId"),
        Case(name: "zero id", body: #"{"pictureId":0}"#, code: 40000, messageContains: "pictureId"),
        Case(name: "fractional id", body: #"{"pictureId":1.5}"#, code: 40000, messageContains: "pictureId"),
        Case(name: "id above Int64", body: #"{"pictureId":9223372036854775808}"#, code: 40000, messageContains: "pictureId"),
        Case(name: "object id", body: #"{"pictureId":{"id":1}}"#, code: 40000, messageContains: "pictureId"),
        Case(name: "junk after digits", body: #"{"pictureId":"12a"}"#, code: 40000, messageContains: "pictureId"),
        Case(name: "NUL after digits", body: #"{"pictureId":"12\u0000"}"#, code: 40000, messageContains: "pictureId"),
        Case(name: "parameters not an object", body: #"{"pictureId":1,"parameters":[1]}"#, code: 40000, messageContains: "parameters"),
        Case(name: "angle 360", body: #"{"pictureId":1,"parameters":{"angle":360}}"#, code: 40000, messageContains: "angle"),
        Case(name: "angle text", body: #"{"pictureId":1,"parameters":{"angle":"left"}}"#, code: 40000, messageContains: "angle"),
        Case(name: "xScale 0.9", body: #"{"pictureId":1,"parameters":{"xScale":0.9}}"#, code: 40000, messageContains: "xScale"),
        Case(name: "yScale 3.5", body: #"{"pictureId":1,"parameters":{"yScale":3.5}}"#, code: 40000, messageContains: "yScale"),
        Case(name: "negative offset", body: #"{"pictureId":1,"parameters":{"leftOffset":-1}}"#, code: 40000, messageContains: "leftOffset"),
        Case(name: "huge offset", body: #"{"pictureId":1,"parameters":{"topOffset":100000}}"#, code: 40000, messageContains: "topOffset"),
        Case(name: "ratio 2:1", body: #"{"pictureId":1,"parameters":{"outputRatio":"2:1"}}"#, code: 40000, messageContains: "outputRatio"),
        Case(name: "flag as text", body: #"{"pictureId":1,"parameters":{"bestQuality":"yes"}}"#, code: 40000, messageContains: "bestQuality"),
    ]

    @Test("bad create_task bodies are 40000, naming the field, and never reach DashScope", arguments: badBodyCases)
    func badBodies(_ c: Case) throws {
        let before = try Stack.devServerStats()["creates"]?.int64Value
        let reply = try Stack.create(cookie: "SESSION=dev-user-1", body: c.body)
        #expect(reply.status == 200)
        #expect(reply.code == c.code)
        if let part = c.messageContains {
            #expect(reply.json?["message"]?.stringValue?.contains(part) == true, "\(String(describing: reply.json))")
        }
        #expect(reply.data == .null)
        #expect(try Stack.devServerStats()["creates"]?.int64Value == before)
    }

    static let badQueryCases: [(String, Int64)] = [
        ("", 40000), ("taskId=", 40000), ("taskId=%20%20", 40000),
        ("taskId=" + String(repeating: "a", count: 129), 40000), ("taskId=a%01b", 40000),
        ("taskId=no-such-task-at-all", 40400),
    ]

    @Test("bad get_task queries", arguments: badQueryCases)
    func badQueries(query: String, code: Int64) throws {
        let reply = try Stack.request("GET", "/api/picture/out_painting/get_task?\(query)", cookie: "SESSION=dev-user-1")
        #expect(reply.status == 200 && reply.code == code)
    }

    @Test("SQL in a taskId is data: the table survives")
    func sqlIsData() throws {
        let before = try Stack.withDatabase { try $0.query("SELECT COUNT(*) AS n FROM out_painting_task").first?.int64("n") }
        for probe in ["%27%20OR%20%271%27%3D%271", "x%27%3BDROP%20TABLE%20out_painting_task%3B--", "%27OR%271%27=%271"] {
            let reply = try Stack.request("GET", "/api/picture/out_painting/get_task?taskId=\(probe)", cookie: "SESSION=dev-user-1")
            #expect(reply.code == 40000 || reply.code == 40400)
        }
        let after = try Stack.withDatabase { try $0.query("SELECT COUNT(*) AS n FROM out_painting_task").first?.int64("n") }
        #expect(after != nil && after! >= before!)
    }

    static let identityHeaderNames = ["X-User-Id", "X-User-Role", "X-Forwarded-User", "Remote-User"]

    @Test("identity headers from the client are ignored; forged or malformed cookies are 40100", arguments: identityHeaderNames)
    func identityHeaders(_ header: String) throws {
        #expect(try Stack.create(cookie: nil, body: #"{"pictureId":1}"#, headers: [(header, "1")]).code == 40100)
        #expect(try Stack.create(cookie: "SESSION=dev-user-1x", body: #"{"pictureId":1}"#).code == 40100)
        #expect(try Stack.create(cookie: "SESSION=\u{7F}", body: #"{"pictureId":1}"#).code == 40100)
    }

    @Test("limits: a body over 64 KiB is nginx's 413; a wrong method is 405 with the envelope")
    func limits() throws {
        let huge = try Stack.create(cookie: "SESSION=dev-user-1", body: #"{"pictureId":1,"pad":""# + String(repeating: "x", count: 70_000) + #""}"#)
        #expect(huge.status == 413)
        let wrong = try Stack.request("PUT", "/api/picture/out_painting/create_task", cookie: "SESSION=dev-user-1", body: "{}")
        #expect(wrong.status == 405 && wrong.code == 40000)
        let wrongGet = try Stack.request("DELETE", "/api/picture/out_painting/get_task?taskId=x", cookie: "SESSION=dev-user-1")
        #expect(wrongGet.status == 405 && wrongGet.code == 40000)
    }

    @Test("create_task only with a JSON body, as Spring's @RequestBody: a cross-site form starts no paid task; get_task also by POST")
    func asRealClientsSend() throws {
        let f = try Stack.fixture(durationMs: 500)
        let body = #"{"pictureId":\#(f.picture)}"#
        let before = try Stack.devServerStats()["creates"]?.int64Value ?? 0
        for type in ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                     "multipart/form-data; boundary=x", "application/jsonp", ""] {
            let reply = try Stack.create(cookie: f.ownerCookie, body: body, headers: [("Content-Type", type)])
            #expect(reply.status == 415 && reply.code == 40000, "Content-Type \(type): \(reply.status) \(String(describing: reply.json))")
        }
        #expect(try Stack.devServerStats()["creates"]?.int64Value == before, "a refused body type reached DashScope")
        let accepted = try Stack.create(cookie: f.ownerCookie, body: body, headers: [("Content-Type", "Application/JSON; charset=UTF-8")])
        #expect(accepted.code == 0, "\(String(describing: accepted.json))")
        let taskId = try #require(accepted.data?["output"]?["taskId"]?.stringValue)
        // A fork of the frontend: POST with the id in the query string and an empty body.
        let posted = try Stack.request("POST", "/api/picture/out_painting/get_task?taskId=\(taskId)", cookie: f.ownerCookie)
        #expect(posted.status == 200 && posted.code == 0 && posted.data?["output"]?["taskId"]?.stringValue == taskId)
    }

    // MARK: - Authorization matrix (HOST-CONTRACT.md)

    struct World {
        let owner, admin, stranger, spaceAdmin, editor, viewer: Int64
        let publicPicture, privatePicture, teamPicture, deletedPicture, pictureInDeletedSpace: Int64
    }

    static func world() throws -> World {
        let id = Stack.freshID
        let w = World(owner: id(), admin: id(), stranger: id(), spaceAdmin: id(), editor: id(), viewer: id(),
                      publicPicture: id(), privatePicture: id(), teamPicture: id(), deletedPicture: id(),
                      pictureInDeletedSpace: id())
        let privateSpace = id(), teamSpace = id(), deletedSpace = id()
        try Stack.withDatabase { db in
            for (user, role) in [(w.owner, "user"), (w.admin, "admin"), (w.stranger, "user"), (w.spaceAdmin, "user"),
                                 (w.editor, "user"), (w.viewer, "user")] {
                try db.execute("INSERT INTO user (id, userAccount, userRole) VALUES (?, ?, ?)", [.int(user), .string("m-\(user)"), .string(role)])
            }
            try db.execute("INSERT INTO space (id, spaceName, spaceType, userId) VALUES (?, 'p', 0, ?), (?, 't', 1, ?)",
                           [.int(privateSpace), .int(w.owner), .int(teamSpace), .int(w.owner)])
            try db.execute("INSERT INTO space (id, spaceName, spaceType, userId, isDelete) VALUES (?, 'gone', 0, ?, 1)",
                           [.int(deletedSpace), .int(w.owner)])
            for (user, role) in [(w.owner, "admin"), (w.spaceAdmin, "admin"), (w.editor, "editor"), (w.viewer, "viewer")] {
                try db.execute("INSERT INTO space_user (spaceId, userId, spaceRole) VALUES (?, ?, ?)",
                               [.int(teamSpace), .int(user), .string(role)])
            }
            let url = "\(Stack.devServer)/images/m.png?sim_duration_ms=60000"
            for (picture, space, deleted) in [(w.publicPicture, nil, 0), (w.privatePicture, privateSpace, 0), (w.teamPicture, teamSpace, 0),
                                              (w.deletedPicture, nil, 1), (w.pictureInDeletedSpace, deletedSpace, 0)] as [(Int64, Int64?, Int)] {
                try db.execute("INSERT INTO picture (id, url, name, userId, spaceId, isDelete) VALUES (?, ?, 'm', ?, ?, ?)",
                               [.int(picture), .string(url), .int(w.owner), .optional(space), .int(deleted)])
            }
        }
        return w
    }

    @Test("who may out-paint which picture")
    func matrix() throws {
        let w = try Self.world()
        let cases: [(String, Int64, Int64, Int64)] = [
            ("public: uploader", w.owner, w.publicPicture, 0),
            ("public: site admin", w.admin, w.publicPicture, 0),
            ("public: stranger", w.stranger, w.publicPicture, 40101),
            ("private: owner", w.owner, w.privatePicture, 0),
            ("private: site admin", w.admin, w.privatePicture, 40101),
            ("private: stranger", w.stranger, w.privatePicture, 40101),
            ("team: space admin", w.spaceAdmin, w.teamPicture, 0),
            ("team: editor", w.editor, w.teamPicture, 0),
            ("team: viewer", w.viewer, w.teamPicture, 40101),
            ("team: non-member", w.stranger, w.teamPicture, 40101),
            ("deleted picture", w.owner, w.deletedPicture, 40400),
            ("deleted space", w.owner, w.pictureInDeletedSpace, 40400),
            ("missing picture", w.owner, Stack.freshID(), 40400),
        ]
        var created: String?
        for (name, user, picture, code) in cases {
            let reply = try Stack.create(cookie: "SESSION=dev-user-\(user)", body: #"{"pictureId":"\#(picture)"}"#)
            #expect(reply.code == code, "\(name): \(String(describing: reply.json))")
            if name == "public: uploader" { created = reply.data?["output"]?["taskId"]?.stringValue }
        }
        let taskId = try #require(created)
        #expect(try Stack.getTask(taskId, cookie: "SESSION=dev-user-\(w.owner)").code == 0)
        #expect(try Stack.getTask(taskId, cookie: "SESSION=dev-user-\(w.admin)").code == 0)
        #expect(try Stack.getTask(taskId, cookie: "SESSION=dev-user-\(w.stranger)").code == 40101)
        #expect(try Stack.getTask(taskId, cookie: nil).code == 40100)
    }
}
}
