import Common
import Hummingbird

/// Real PNG files for picture URLs (`/images/…`) and task results (`/results/<taskId>.png`).
struct ImageRoutes: Sendable {
    func register(on router: Router<BasicRequestContext>) {
        router.get("/images/:name") { _, context in png(seed: context.parameters.get("name") ?? "image", size: 192) }
        router.get("/results/:name") { _, context in png(seed: context.parameters.get("name") ?? "result", size: 256) }
    }

    private func png(seed: String, size: Int) -> Response {
        let bytes = PNGImage.gradient(width: size, height: size, seed: seed)
        return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "max-age=86400"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
