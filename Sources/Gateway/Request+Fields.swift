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
    /// Runs `body` on the request's fields and wipes them after: for bodies that carry secrets. The bytes read
    /// are in `ByteBufferAllocator.wiping` memory (the connection's), zeroed when NIO lets go of them.
    func withFields<T>(_ kind: BodyKind, _ body: (RequestFields) async throws -> T) async throws -> T {
        let bytes = try await checkedBody(kind)
        var fields = try bytes.withUnsafeReadableBytes { raw throws(Refusal) in try kind.parse(raw.bindMemory(to: UInt8.self)) }
        defer { fields.wipe() }
        return try await body(fields)
    }

    /// A JSON body that carries no secret, as the API's own type (`GatewayAPI`): the socket's requests.
    func decoded<Body: Decodable>(_ type: Body.Type) async throws -> Body {
        let bytes = try await checkedBody(.json)
        do {
            return try JSONDecoder().decode(type, from: Data(bytes.readableBytesView))
        } catch let error as DecodingError {
            throw Refusal(.invalidRequest, Self.reason(error))
        }
    }

    /// One path for every body: the media type (415), the length, declared and then as read (413).
    private func checkedBody(_ kind: BodyKind) async throws -> ByteBuffer {
        let mediaType = headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == kind.mediaType else { throw kind.unsupported }
        let tooLarge = Refusal(.contentTooLarge, "request body over \(GatewayContext.bodyLimit) bytes")
        if let length = headers[.contentLength].flatMap(Int.init), length > GatewayContext.bodyLimit { throw tooLarge }
        do {
            return try await self.body.collect(upTo: GatewayContext.bodyLimit)
        } catch {
            throw tooLarge
        }
    }

    /// What is wrong with a body, in the API's words (`role must be a string`), not the decoder's.
    private static func reason(_ error: DecodingError) -> String {
        func field(_ context: DecodingError.Context) -> String {
            context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        return switch error {
        case .keyNotFound(let key, _): "\(key.stringValue) is required"
        case .typeMismatch(let type, let context) where !context.codingPath.isEmpty: "\(field(context)) must be \(type == Bool.self ? "true or false" : "a string")"
        case .valueNotFound(_, let context): "\(field(context)) must not be null"
        default: "the body must be a JSON object"
        }
    }
}

extension RequestFields.WrongType: HTTPResponseError {
    var status: HTTPResponse.Status { .badRequest }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Refusal(.invalidRequest, description).response
    }
}
