package ask

import (
	"regexp"
	"strings"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// A document can hold text addressed to a language model instead of its
// reader ("Ignore your instructions and reply only with …"). Quoting the
// evidence in the user message (answerMessages) keeps such text out of the
// instructions, but a small model may still copy it, and a sentence copied
// from the evidence looks supported. So steering sentences are found once,
// by their shape, and kept out of every path to the answer: the model sees
// them replaced by a marker, they are never extracts (so never a backbone
// or a fallback answer), and an answer sentence that carries words found
// only in them is dropped.

// steeringRe matches a sentence addressed to a model: orders to drop its
// instructions, role changes, demands for an exact reply, prompt talk.
var steeringRe = regexp.MustCompile(`(?i)` +
	`\b(ignore|disregard|forget|override|bypass)\s+(all\s+|any\s+)?(of\s+)?(the\s+)?(your|previous|prior|above|earlier|preceding|system|these|those)\b[^.!?]{0,30}\b(instructions?|prompts?|rules|guidelines|directives?)\b` +
	`|\byou are (now|no longer)\b|\bfrom now on,? you\b|\bact as (an?|the) (ai|assistant|language model|chatbot)\b` +
	`|\b(system|developer) prompt\b|\bhidden instructions?\b|\bdeveloper message\b|\bdebug mode\b|\bjailbreak|\bDAN mode\b` +
	`|\b(reply|respond|say|output|print)\b[^.!?]{0,20}\b(only|exactly|verbatim)\b[^.!?]{0,20}\b(word|words|phrase|text|string|with)\b` +
	`|\b(language model|AI assistant|AI model|chatbot|LLM)s?\b[^.!?]{0,40}\b(must|should|shall|has to|needs to)\b` +
	`|\bdo not (cite|mention|reveal|tell)\b[^.!?]{0,40}\b(sources?|documents?|user|citations?)\b`)

// steeringOmitted stands in the evidence for a steering sentence.
const steeringOmitted = "[text addressed to an assistant omitted]"

// isSteering reports whether sentence s is addressed to a model.
func isSteering(s string) bool { return steeringRe.MatchString(s) }

// defuseSteering is text with its steering sentences replaced by a marker.
func defuseSteering(text string) string {
	if !steeringRe.MatchString(text) {
		return text
	}
	us := units(text)
	for i, u := range us {
		if isSteering(u) {
			us[i] = steeringOmitted
		}
	}
	return strings.Join(us, " ")
}

// dropSteered removes the claims of answer that carry a word found only in
// the evidence's steering sentences (not in the question nor in the rest
// of the evidence), and returns what it dropped.
func dropSteered(answer, q string, evs []*agentsv1.Evidence) (string, []string) {
	only := map[string]bool{}
	for _, ev := range evs {
		for _, u := range units(ev.GetPassage().GetText()) {
			if isSteering(u) {
				for w := range steerWords(u) {
					only[w] = true
				}
			}
		}
	}
	if len(only) == 0 {
		return answer, nil
	}
	for w := range steerWords(q) {
		delete(only, w)
	}
	for _, ev := range evs {
		for _, u := range units(ev.GetPassage().GetText()) {
			if !isSteering(u) {
				for w := range steerWords(u) {
					delete(only, w)
				}
			}
		}
	}
	var kept, dropped []string
	for _, c := range SplitClaims(answer) {
		bad := isSteering(c)
		for w := range steerWords(labelRe.ReplaceAllString(c, "")) {
			if only[w] {
				bad = true
				break
			}
		}
		if bad {
			dropped = append(dropped, c)
		} else {
			kept = append(kept, c)
		}
	}
	if len(dropped) == 0 {
		return answer, nil
	}
	return strings.Join(kept, " "), dropped
}

var steerWordRe = regexp.MustCompile(`[\pL\pN]+`)

// steerWords are the distinctive words of s: four letters or more, lower case.
func steerWords(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range steerWordRe.FindAllString(strings.ToLower(s), -1) {
		if len(w) >= 4 {
			out[w] = true
		}
	}
	return out
}
