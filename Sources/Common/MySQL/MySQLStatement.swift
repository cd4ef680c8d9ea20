internal import CMariaDB

/// A server-side prepared statement: prepared in `init`, closed in `deinit`.
///
/// - Important: used only by the connection (and thread) that created it.
final class MySQLStatement {
    private let handle: UnsafeMutablePointer<MYSQL_STMT>
    let parameterCount: Int

    init(connection: UnsafeMutablePointer<MYSQL>, sql: String) throws(MySQLError) {
        guard let stmt = mysql_stmt_init(connection) else {
            throw MySQLError(code: .prepare, errno: mysql_errno(connection), sqlState: "HY000",
                             message: String(cString: mysql_error(connection)))
        }
        handle = stmt
        let rc = sql.withCString { mysql_stmt_prepare(stmt, $0, UInt(sql.utf8.count)) }
        if rc != 0 {
            let error = MySQLStatement.error(stmt, .prepare)
            mysql_stmt_close(stmt)
            throw error
        }
        var updateMaxLength: my_bool = 1
        mysql_stmt_attr_set(stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &updateMaxLength)
        parameterCount = Int(mysql_stmt_param_count(stmt))
    }

    deinit {
        mysql_stmt_close(handle)
    }

    private static func error(_ stmt: UnsafeMutablePointer<MYSQL_STMT>, _ code: MySQLError.Code) -> MySQLError {
        MySQLError(code: code, errno: mysql_stmt_errno(stmt),
                   sqlState: String(cString: mysql_stmt_sqlstate(stmt)),
                   message: String(cString: mysql_stmt_error(stmt)))
    }

    /// Binds `values`, executes, and reads the whole result set (if any) as text.
    func execute(_ values: [MySQLValue]) throws(MySQLError) -> (rows: [MySQLRow], result: MySQLExecuteResult) {
        precondition(values.count == parameterCount, "statement takes \(parameterCount) parameters, got \(values.count)")
        // Every buffer handed to MYSQL_BIND must stay valid until execute returns.
        var allocations: [UnsafeMutableRawPointer] = []
        defer { allocations.forEach { $0.deallocate() } }
        var binds = [MYSQL_BIND](repeating: MYSQL_BIND(), count: values.count)
        for (i, value) in values.enumerated() {
            switch value {
            case .null:
                binds[i].buffer_type = MYSQL_TYPE_NULL
            case .int(let v):
                let p = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
                p.storeBytes(of: v, as: Int64.self)
                allocations.append(p)
                binds[i].buffer_type = MYSQL_TYPE_LONGLONG
                binds[i].buffer = p
            case .double(let v):
                let p = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
                p.storeBytes(of: v, as: Double.self)
                allocations.append(p)
                binds[i].buffer_type = MYSQL_TYPE_DOUBLE
                binds[i].buffer = p
            case .string(let s):
                let bytes = Array(s.utf8)
                let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
                bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
                allocations.append(p)
                binds[i].buffer_type = MYSQL_TYPE_STRING
                binds[i].buffer = p
                binds[i].buffer_length = UInt(bytes.count)
                binds[i].length_value = UInt(bytes.count)
            }
        }
        if !binds.isEmpty {
            let ok = binds.withUnsafeMutableBufferPointer { mysql_stmt_bind_param(handle, $0.baseAddress!) }
            if ok != 0 { throw Self.error(handle, .execute) }
        }
        if mysql_stmt_execute(handle) != 0 { throw Self.error(handle, .execute) }

        guard let metadata = mysql_stmt_result_metadata(handle) else {
            return ([], MySQLExecuteResult(affectedRows: mysql_stmt_affected_rows(handle),
                                           lastInsertID: mysql_stmt_insert_id(handle)))
        }
        defer { mysql_free_result(metadata) }
        defer { mysql_stmt_free_result(handle) }
        if mysql_stmt_store_result(handle) != 0 { throw Self.error(handle, .fetch) }
        let rows = try fetchRows(metadata)
        return (rows, MySQLExecuteResult(affectedRows: 0, lastInsertID: 0))
    }

    private func fetchRows(_ metadata: UnsafeMutablePointer<MYSQL_RES>) throws(MySQLError) -> [MySQLRow] {
        let count = Int(mysql_num_fields(metadata))
        let fields = mysql_fetch_fields(metadata)!
        var names: [String] = []
        var buffers: [UnsafeMutableRawPointer] = []
        let lengths = UnsafeMutablePointer<UInt>.allocate(capacity: count)
        let nulls = UnsafeMutablePointer<my_bool>.allocate(capacity: count)
        let errors = UnsafeMutablePointer<my_bool>.allocate(capacity: count)
        defer {
            buffers.forEach { $0.deallocate() }
            lengths.deallocate(); nulls.deallocate(); errors.deallocate()
        }
        var binds = [MYSQL_BIND](repeating: MYSQL_BIND(), count: count)
        var capacities: [Int] = []
        for i in 0..<count {
            names.append(String(cString: fields[i].name))
            // Text form of numbers and dates fits in 64 bytes; strings report their longest value.
            let capacity = max(Int(fields[i].max_length), 64) + 1
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
            buffers.append(buffer)
            capacities.append(capacity)
            binds[i].buffer_type = MYSQL_TYPE_STRING
            binds[i].buffer = buffer
            binds[i].buffer_length = UInt(capacity)
            binds[i].length = lengths + i
            binds[i].is_null = nulls + i
            binds[i].error = errors + i
        }
        let bound = binds.withUnsafeMutableBufferPointer { mysql_stmt_bind_result(handle, $0.baseAddress!) }
        if bound != 0 { throw Self.error(handle, .fetch) }

        var rows: [MySQLRow] = []
        while true {
            let rc = mysql_stmt_fetch(handle)
            if rc == MYSQL_NO_DATA { break }
            if rc == 1 { throw Self.error(handle, .fetch) }
            var columns: [String?] = []
            columns.reserveCapacity(count)
            for i in 0..<count {
                if nulls[i] != 0 { columns.append(nil); continue }
                let length = Int(lengths[i])
                if length <= capacities[i] {
                    columns.append(String(decoding: UnsafeRawBufferPointer(start: buffers[i], count: length), as: UTF8.self))
                } else {
                    // Truncated (should not happen with max_length): fetch the column whole.
                    let big = UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 1)
                    defer { big.deallocate() }
                    var got: UInt = 0
                    let fetched = withUnsafeMutablePointer(to: &got) { gotPointer -> Int32 in
                        var column = MYSQL_BIND()
                        column.buffer_type = MYSQL_TYPE_STRING
                        column.buffer = big
                        column.buffer_length = UInt(length)
                        column.length = gotPointer
                        return mysql_stmt_fetch_column(handle, &column, UInt32(i), 0)
                    }
                    if fetched != 0 { throw Self.error(handle, .fetch) }
                    columns.append(String(decoding: UnsafeRawBufferPointer(start: big, count: length), as: UTF8.self))
                }
            }
            rows.append(MySQLRow(columns: columns, names: names))
        }
        return rows
    }
}
