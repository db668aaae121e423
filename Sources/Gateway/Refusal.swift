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

    var status: HTTPResponse.Status { .init(code: answer.failure.status) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        response
    }

    var response: Response {
        var response = JSONAnswer.encode(status, answer)
        if let seconds = answer.failure.retryAfter { response.headers[.retryAfter] = String(seconds) }
        return response
    }
}
