@testable import Minting
import Testing

/// The STS (Query/XML) response reader.
@Suite struct XMLFieldsTests {
    @Test func readsTheFieldsOfAResponse() throws {
        let xml = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA1</AccessKeyId></Credentials></AssumeRoleResult></AssumeRoleResponse>"
        let fields = try #require(XMLFields(Array(xml.utf8)))
        #expect(fields["AssumeRoleResult/Credentials/AccessKeyId"] == "ASIA1")
        #expect(fields.first(endingWith: "AccessKeyId") == "ASIA1")
    }

    /// Found by fuzzing: FoundationXML traps on element and attribute names that are not UTF-8, and crashes
    /// on a processing instruction without data.
    @Test func refusesWhatFoundationXMLCannotTake() {
        #expect(XMLFields(Array("<R><".utf8) + [0xC8] + Array("></R>".utf8)) == nil)
        #expect(XMLFields(Array("<R a".utf8) + [0xFF] + Array("=\"1\"/>".utf8)) == nil)
        #expect(XMLFields(Array("<R><?pi?></R>".utf8)) == nil)
        #expect(XMLFields(Array("<?xml version=\"1.0\"?><!DOCTYPE R [<!ENTITY a \"aaaa\">]><R>&a;</R>".utf8)) == nil)
    }

    /// Each parse error leaks inside FoundationXML: undefined entities, which are errors by the hundred, never
    /// reach it; XML's own five and character references do.
    @Test func onlyXMLsOwnEntitiesReachTheParser() {
        #expect(XMLFields(Array(("<R>" + String(repeating: "&x;", count: 1000) + "</R>").utf8)) == nil)
        #expect(XMLFields(Array("<R><A>a &amp; b &lt;&#65;&#x42;&quot;&apos;&gt;</A></R>".utf8))?["A"] == "a & b <AB\"'>")
        #expect(XMLFields(Array("<R><A>&#;</A></R>".utf8)) == nil)
    }

    @Test func refusesWhatAnAWSResponseNeverHas() {
        for xml in ["<R><!-- c --><A>1</A></R>", "<R><A><![CDATA[1]]></A></R>", "<R><A>1</B></R>", "<R><A>1</A>", "text<R/>", "<R/>tail",
                    "<R a=1/>", "<R a=\"<\"/>", "<R><A>&#0;</A></R>", "<?xml ", "<?xml ?", ""] {
            #expect(XMLFields(Array(xml.utf8)) == nil, "\(xml)")
        }
    }

    /// As before with FoundationXML: the text of each element since its last child, trimmed; the first wins.
    @Test func readsTextAsTheResponsesAreWritten() throws {
        let fields = try #require(XMLFields(Array("<R xmlns='x'>\n <A> one <B>two</B> three </A><A>again</A><C/><D k=\"v\">&#x1F600;</D></R>\n".utf8)))
        #expect(fields.values == ["A": "three", "A/B": "two", "D": "😀"])
    }

    @Test func acceptsALeadingXMLDeclaration() {
        #expect(XMLFields(Array("<?xml version=\"1.0\" encoding=\"UTF-8\"?><R><A>1</A></R>".utf8))?["A"] == "1")
    }
}
