/// Logging metadata keys, defined once so that log shippers can rely on them.
public enum LogKey {
    public static let taskID = "outpainting.task_id"
    public static let pictureID = "outpainting.picture_id"
    public static let userID = "outpainting.user_id"
    public static let requestID = "fcgi.request_id"
    public static let endpoint = "fcgi.endpoint"
    public static let partition = "kafka.partition"
    public static let offset = "kafka.offset"
    public static let error = "error"
}
