/// Comparisons of secrets (tokens, shared secrets) whose time does not depend on where the inputs
/// first differ, so timing says nothing about the secret.
public enum ConstantTime {
    /// True when `presented` equals `secret` and the secret is not empty.
    public static func equals(_ presented: String, _ secret: String) -> Bool {
        let x = Array(presented.utf8), y = Array(secret.utf8)
        guard !y.isEmpty else { return false }
        var difference = UInt8(truncatingIfNeeded: x.count ^ y.count)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0 && x.count == y.count
    }
}
