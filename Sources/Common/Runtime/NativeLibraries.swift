/// One-time process setup of the C libraries, called from `main` before any thread starts.
public enum NativeLibraries {
    public struct OutdatedLibrary: Error, CustomStringConvertible {
        public let description: String
    }

    /// Initializes MariaDB Connector/C and libcurl (neither init is thread-safe) and refuses to run
    /// with a librdkafka older than 2.1.2, which cannot talk to current brokers.
    public static func initialize() throws {
        MySQLConnection.initializeLibrary()
        HTTPClient.initializeLibrary()
        guard KafkaLibrary.versionNumber >= KafkaLibrary.minimumVersionNumber else {
            throw OutdatedLibrary(description: "librdkafka \(KafkaLibrary.versionString) is loaded; >= 2.1.2 is required "
                                  + "(run scripts/setup.sh, which installs one into /usr/local and runs ldconfig)")
        }
    }
}
