internal import CSupport

/// Process memory housekeeping.
public enum SystemMemory {
    /// Returns freed heap pages to the system (glibc `malloc_trim`), so a burst of transient
    /// allocations (loading 100,000 rows) does not stay in RSS.
    public static func returnFreedMemory() {
        _ = malloc_trim(0)
    }
}
