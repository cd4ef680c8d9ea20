/// The out-painting parameters of a create_task request, validated against DashScope's documented
/// ranges (DASHSCOPE.md §2.2) so that a bad value never costs a round trip to Aliyun.
public struct OutPaintingParameters: Sendable, Equatable {
    public var angle: Int = 0
    public var outputRatio: String = ""
    public var xScale: Double = 1.0
    public var yScale: Double = 1.0
    public var topOffset: Int = 0
    public var bottomOffset: Int = 0
    public var leftOffset: Int = 0
    public var rightOffset: Int = 0
    public var bestQuality: Bool = false
    public var limitImageSize: Bool = true
    public var addWatermark: Bool = true

    public static let allowedRatios: Set<String> = ["", "1:1", "3:4", "4:3", "9:16", "16:9"]
    /// Input images are at most 4096 px a side and offsets on one axis must stay below 3× the side,
    /// so any single offset above this can never be valid.
    public static let maximumOffset = 3 * 4096

    public init() {}

    /// Reads the host's camelCase `parameters` object; absent or null fields keep their defaults,
    /// unknown keys are ignored.
    public static func parse(_ value: JSONValue?) throws(BusinessError) -> OutPaintingParameters {
        var p = OutPaintingParameters()
        guard let value, !value.isNull else { return p }
        guard case .object = value else { throw BusinessError(.paramsError, "parameters 必须是对象") }

        func field(_ name: String) -> JSONValue? {
            guard let v = value[name], !v.isNull else { return nil }
            return v
        }
        func integer(_ name: String, _ range: ClosedRange<Int>) throws(BusinessError) -> Int? {
            guard let v = field(name) else { return nil }
            // Java's Integer accepts 90 and "90"; a fraction such as 1.5 is refused.
            let text: String?
            switch v {
            case .number(let t): text = t
            case .string(let t): text = t
            default: text = nil
            }
            guard let text, let n = Int(text), range.contains(n) else {
                throw BusinessError(.paramsError, "\(name) 必须是 \(range.lowerBound)~\(range.upperBound) 的整数")
            }
            return n
        }
        func scale(_ name: String) throws(BusinessError) -> Double? {
            guard let v = field(name) else { return nil }
            let number: Double?
            switch v {
            case .number(let t): number = Double(t)
            case .string(let t): number = Double(t)
            default: number = nil
            }
            guard let number, number.isFinite, number >= 1.0, number <= 3.0 else {
                throw BusinessError(.paramsError, "\(name) 必须在 1.0~3.0 之间")
            }
            return number
        }
        func flag(_ name: String) throws(BusinessError) -> Bool? {
            guard let v = field(name) else { return nil }
            guard let b = v.boolValue else { throw BusinessError(.paramsError, "\(name) 必须是布尔值") }
            return b
        }

        if let v = try integer("angle", 0...359) { p.angle = v }
        if let v = field("outputRatio") {
            guard let ratio = v.stringValue, allowedRatios.contains(ratio) else {
                throw BusinessError(.paramsError, "outputRatio 必须是 \"\"、1:1、3:4、4:3、9:16、16:9 之一")
            }
            p.outputRatio = ratio
        }
        if let v = try scale("xScale") { p.xScale = v }
        if let v = try scale("yScale") { p.yScale = v }
        if let v = try integer("topOffset", 0...maximumOffset) { p.topOffset = v }
        if let v = try integer("bottomOffset", 0...maximumOffset) { p.bottomOffset = v }
        if let v = try integer("leftOffset", 0...maximumOffset) { p.leftOffset = v }
        if let v = try integer("rightOffset", 0...maximumOffset) { p.rightOffset = v }
        if p.topOffset + p.bottomOffset >= maximumOffset {
            throw BusinessError(.paramsError, "topOffset + bottomOffset 过大")
        }
        if p.leftOffset + p.rightOffset >= maximumOffset {
            throw BusinessError(.paramsError, "leftOffset + rightOffset 过大")
        }
        if let v = try flag("bestQuality") { p.bestQuality = v }
        if let v = try flag("limitImageSize") { p.limitImageSize = v }
        if let v = try flag("addWatermark") { p.addWatermark = v }
        return p
    }

    /// DashScope's snake_case `parameters` object.
    public var dashScopeJSON: JSONValue {
        .object([
            ("angle", .int(angle)),
            ("output_ratio", .string(outputRatio)),
            ("x_scale", .double(xScale)),
            ("y_scale", .double(yScale)),
            ("top_offset", .int(topOffset)),
            ("bottom_offset", .int(bottomOffset)),
            ("left_offset", .int(leftOffset)),
            ("right_offset", .int(rightOffset)),
            ("best_quality", .bool(bestQuality)),
            ("limit_image_size", .bool(limitImageSize)),
            ("add_watermark", .bool(addWatermark)),
        ])
    }

    /// The host's camelCase form, stored with the task.
    public var hostJSON: JSONValue {
        .object([
            ("angle", .int(angle)), ("outputRatio", .string(outputRatio)),
            ("xScale", .double(xScale)), ("yScale", .double(yScale)),
            ("topOffset", .int(topOffset)), ("bottomOffset", .int(bottomOffset)),
            ("leftOffset", .int(leftOffset)), ("rightOffset", .int(rightOffset)),
            ("bestQuality", .bool(bestQuality)), ("limitImageSize", .bool(limitImageSize)),
            ("addWatermark", .bool(addWatermark)),
        ])
    }
}
