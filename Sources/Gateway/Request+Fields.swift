import Foundation
import GatewayAPI
import Hummingbird
import NIOCore

/// The two kinds of body the gateway reads, both into `RequestFields`: bytes, so that secrets can be wiped.
enum BodyKind {
    case json
    case form

    var mediaType: String {
        switch self {
        case .json: "application/json"
        case .form: "application/x-www-form-urlencoded"
        }
    }

    func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(Refusal) -> RequestFields {
        switch self {
        case .json:
            do {
                return try FlatJSON.parseObject(bytes)
            } catch let malformed as FlatJSON.Malformed {
                throw Refusal(.invalidRequest, "the body must be a JSON object of strings: \(malformed.reason)")
            } catch {
                throw Refusal(.invalidRequest, "the body must be a JSON object of strings")
            }
        case .form:
            do {
                return try FormBody.parse(bytes)
            } catch {
                throw Refusal(.invalidRequest, "a form field appears twice")
            }
        }
    }

    var unsupported: Refusal {
        switch self {
        case .json: Refusal(.unsupportedMediaType, "send JSON (Content-Type: application/json)")
        case .form: Refusal(.unsupportedMediaType, "send the form (application/x-www-form-urlencoded)")
        }
    }
}

extension Request {
    /// Runs `body` on the request's fields and wipes them after. One path for both kinds: the media type
    /// (415), the length, declared and then as read (413), the parse (400). The bytes read are in
    /// `ByteBufferAllocator.wiping` memory (the connection's), zeroed when NIO lets go of them.
    func withFields<T>(_ kind: BodyKind, _ body: (RequestFields) async throws -> T) async throws -> T {
        let mediaType = headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == kind.mediaType else { throw kind.unsupported }
        let tooLarge = Refusal(.contentTooLarge, "request body over \(GatewayContext.bodyLimit) bytes")
        if let length = headers[.contentLength].flatMap(Int.init), length > GatewayContext.bodyLimit { throw tooLarge }
        let bytes: ByteBuffer
        do {
            bytes = try await self.body.collect(upTo: GatewayContext.bodyLimit)
        } catch {
            throw tooLarge
        }
        var fields = try bytes.withUnsafeReadableBytes { raw throws(Refusal) in try kind.parse(raw.bindMemory(to: UInt8.self)) }
        defer { fields.wipe() }
        return try await body(fields)
    }
}

extension RequestFields.WrongType: HTTPResponseError {
    var status: HTTPResponse.Status { .badRequest }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Refusal(.invalidRequest, description).response
    }
}
