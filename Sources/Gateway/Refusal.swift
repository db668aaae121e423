import GatewayAPI
import Hummingbird
import HTTPTypes

/// A refused request, thrown by a route or a body reader and rendered by Hummingbird (through
/// `SecurityHeadersMiddleware`) as its `ErrorAnswer`: the status and `Retry-After` come from the failure.
struct Refusal: HTTPResponseError {
    var answer: ErrorAnswer

    init(_ failure: Failure, _ message: String) {
        answer = ErrorAnswer(failure, message)
    }

    init(_ answer: ErrorAnswer) {
        self.answer = answer
    }

    var status: HTTPResponse.Status { answer.failure.httpStatus }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        response
    }

    var response: Response {
        var response = JSONAnswer.encode(status, answer)
        response.setRetryAfter(for: answer.failure)
        return response
    }
}

extension Failure {
    /// The row's status as Hummingbird takes it.
    var httpStatus: HTTPResponse.Status { .init(code: status) }
}

extension Response {
    /// `Retry-After` where the failure's row has one, on a JSON answer or a page alike.
    mutating func setRetryAfter(for failure: Failure) {
        if let seconds = failure.retryAfter { headers[.retryAfter] = String(seconds) }
    }
}
