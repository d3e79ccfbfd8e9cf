/*
 * demo_vocab.c - vocabulary, accounts and story schedule for the demo feed.
 *
 * Text comes from sentence templates with slots ({n} noun, {s} sentiment word,
 * ...) filled with words picked by Zipf's law, so a few words are very common
 * and most are rare, as in real timelines. Every choice draws from one
 * xoshiro256** stream seeded from the feed's seed; nothing reads the clock.
 */
#include "ingest/demo_vocab.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/strbuf.h"

/* ------------------------------------------------------------------ random */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1). */
static double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n); n > 0. The bias of the multiply-shift is below 2^-32. */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static bool rng_chance(struct rng *r, double p)
{
	return rng_unit(r) < p;
}

static double rng_range(struct rng *r, double lo, double hi)
{
	return lo + (hi - lo) * rng_unit(r);
}

/* Standard normal (Box-Muller; one value per call keeps the stream simple). */
static double rng_normal(struct rng *r)
{
	double u = 1.0 - rng_unit(r), v = rng_unit(r);
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/*
 * Zipf-distributed rank in [0, n) with exponent s, by inverting the CDF of the
 * continuous power law on [1, n + 1): exact enough for word choice and O(1)
 * without per-list tables.
 */
static uint32_t rng_zipf(struct rng *r, uint32_t n, double s)
{
	double u = rng_unit(r), x;
	if (n <= 1)
		return 0;
	if (fabs(s - 1.0) < 1e-9)
		x = pow((double)n + 1.0, u);
	else
		x = pow((pow((double)n + 1.0, 1.0 - s) - 1.0) * u + 1.0, 1.0 / (1.0 - s));
	uint32_t k = (uint32_t)x;
	return k < 1 ? 0 : (k > n ? n - 1 : k - 1);
}

/* ------------------------------------------------------------- word lists */

struct wl {
	const char *const *w;
	uint32_t n;
};

/* A static word list from string literals (file-scope compound literal). */
#define L(...) { (const char *const[]){ __VA_ARGS__ }, \
		 sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *) }

static const char *wl_zipf(struct rng *r, const struct wl *l, double s)
{
	return l->n ? l->w[rng_zipf(r, l->n, s)] : "";
}

static const char *wl_any(struct rng *r, const struct wl *l)
{
	return l->n ? l->w[rng_below(r, l->n)] : "";
}

/* -------------------------------------------------------------- languages */

enum { EN, DE, FR, ES, PT, JA, NLANGS };

struct lang_vocab {
	const char *code;
	bool spaced;           /* words and sentences separated by spaces */
	uint8_t share;         /* percent of accounts writing it */
	struct wl nouns;       /* ordered by frequency (Zipf rank) */
	struct wl pos, neg;    /* sentiment words that fit "X is {p}" */
	struct wl intens;      /* intensifiers: "really" */
	struct wl acts;        /* things one did: "fixed the build" */
	struct wl events;      /* what a thing did: "broke again" */
	struct wl times, opens, closes;
	struct wl bg_tpl, story_tpl;
	struct wl first, last; /* "ascii|Display" or plain ascii */
	struct wl notes;       /* account bios, HTML */
	struct wl tags;        /* hashtags popular in that language */
};

/*
 * Template slots: {n} noun, {k} topic or story subject, {e} what it did,
 * {p} positive, {q} negative, {s} positive or negative by the post's mood,
 * {x} intensifier, {a} action, {t} time, {o} opener, {c} closer. Upper-case
 * {P} {Q} {S} shout the word (VADER counts capitals).
 */
static const struct lang_vocab langs[NLANGS] = {
	[EN] = {
		.code = "en", .spaced = true, .share = 58,
		.nouns = L("coffee", "weather", "cat", "code", "train", "music", "book", "dog",
			   "garden", "tea", "bread", "weekend", "bike", "project", "meeting",
			   "movie", "podcast", "game", "photo", "laptop", "dinner", "soup", "pizza",
			   "server", "update", "bug", "deadline", "commute", "bus", "library",
			   "city", "park", "sunset", "rain", "keyboard", "phone", "album", "song",
			   "guitar", "concert", "beach", "mountain", "river", "forest", "bird",
			   "neighbour", "kitchen", "office", "market", "bakery", "cake", "cookie",
			   "recipe", "plant", "tomato", "flower", "sky", "moon", "window", "desk",
			   "notebook", "novel", "poem", "museum", "festival", "bridge", "street",
			   "playlist", "sourdough", "compiler", "database", "terminal", "paper",
			   "lecture", "exam", "holiday", "jacket", "umbrella", "lunch", "breakfast",
			   "sandwich", "ramen", "curry", "spreadsheet", "printer", "router",
			   "backup", "documentation", "pull request", "inbox", "timeline"),
		.pos = L("great", "lovely", "amazing", "awesome", "wonderful", "beautiful",
			 "fantastic", "perfect", "brilliant", "excellent", "nice", "good", "fun",
			 "delightful", "cute", "happy", "impressive", "gorgeous", "superb",
			 "sweet", "calm", "cool", "charming", "pleasant", "inspiring",
			 "incredible", "outstanding", "peaceful", "glorious", "fabulous",
			 "adorable", "refreshing", "satisfying", "hilarious", "magnificent",
			 "splendid"),
		.neg = L("terrible", "awful", "bad", "broken", "annoying", "horrible",
			 "disappointing", "boring", "ugly", "slow", "sad", "painful",
			 "frustrating", "miserable", "worse", "useless", "dreadful", "exhausting",
			 "stressful", "noisy", "grim", "gross", "confusing", "ridiculous",
			 "pathetic", "nasty", "lousy", "depressing", "tragic", "tiring",
			 "unbearable", "chaotic", "awkward", "cursed", "disastrous", "gloomy"),
		.intens = L("so", "really", "very", "extremely", "kind of", "pretty",
			    "incredibly", "absolutely", "somewhat", "a bit", "super", "totally"),
		.acts = L("finished the first draft", "fixed the build", "baked a loaf of bread",
			  "went for a long walk", "repotted all the plants",
			  "cleaned the whole kitchen", "read three chapters", "shipped the release",
			  "watched the sunset", "learned a new chord", "made soup from scratch",
			  "answered every email", "rewrote the parser", "fed the birds",
			  "cycled to work", "tried a new recipe", "organised my desk",
			  "got my tests passing", "fixed the leaky tap", "finally called my mum",
			  "planted tomatoes", "migrated my server", "wrote a blog post",
			  "took a nap", "upgraded my laptop", "deleted a lot of code",
			  "tidied the garden", "ran five kilometres", "visited the museum",
			  "finished the puzzle"),
		.events = L("broke again", "is late again", "finally works", "made my day",
			    "ruined my afternoon", "is sold out", "got an update", "is back",
			    "needs a reboot", "smells amazing", "is taking forever",
			    "surprised me"),
		.times = L("today", "this morning", "tonight", "last night", "right now",
			   "this week", "all day", "again", "this afternoon", "yesterday",
			   "on a Monday", "before lunch", "every single time", "lately", "at 3am"),
		.opens = L("", "", "", "", "", "Honestly,", "Okay so", "Well,", "PSA:", "Update:",
			   "Hmm,", "So", "Friendly reminder:", "Wow,", "Ugh,", "Yay,",
			   "Not gonna lie,", "Quick one:", "Fun fact:", "Oh no,", "Ha,"),
		.closes = L("", "", "", "", "lol", "Anyway.", "Send help.",
			    "10/10 would recommend.", "Thoughts?", "That is all.",
			    "Back to work.", "Life is good.", "Sigh.", "We'll see.", "Cheers!",
			    "No regrets.", "Wish me luck!", "As one does.", "lmao", "Zero stars.",
			    "ok bye"),
		.bg_tpl = L("{o} the {n} {t} is {x} {s}. {c}",
			    "{o} just {a}. Feeling {s}.",
			    "Why is the {n} always so {q}? {c}",
			    "Not gonna lie, the {n} was {x} {s} {t}.",
			    "Can't stop thinking about {k}. {c}",
			    "Anyone else think the new {n} is {s}?",
			    "I love my {n} but {t} it is {x} {q}.",
			    "{t} I {a} and it was {s}!",
			    "Hot take: {k} is {x} {s}.",
			    "The {n} is not {p} at all. {c}",
			    "{S}!!! The {n} {t} was {S}!",
			    "Working on the {n} {t}. It's going {s}.",
			    "My {n} and my {n} are both {q} {t} lol",
			    "Who needs the {n} when you have {k}?",
			    "If you need me, I'll be with my {n} and {k}.",
			    "{o} {k} {e}. {c}",
			    "Thinking about {k} again. {c}",
			    "Finally {a}! {c}",
			    "Three things {t}: {k}, the {n} and my {n}.",
			    "{k} {e} and honestly that's {s}.",
			    "Is it just me or is the {n} {x} {q} {t}?",
			    "Rate my {n}: {x} {s}, would do again.",
			    "Small joys: {k}, the {n}, and quiet.",
			    "The {n} situation {t} is {x} {q}. {c}",
			    "Quick question: is {k} {s} or am I wrong?",
			    "Nothing beats {k} {t}.",
			    "Gonna be honest, I don't get the hype about {k}.",
			    "Q&A about {k} {t}, bring questions!",
			    "{k} > {n}. Fight me.",
			    "I <3 {k}. {c}",
			    "\"{s}\" is the only word for this {n}.",
			    "The {n} is {x} {s}, but the {n} is {q}."),
		.story_tpl = L("{k} {e}! {c}",
			       "{o} {k} {e} and it's {x} {s}.",
			       "Watching {k} {t}. {S}!",
			       "Can't believe {k} {e}. {c}",
			       "Anyone else following {k}? It's {x} {s}.",
			       "{k} is all anyone is talking about {t}.",
			       "Okay, {k} {e}. This is {x} {s}.",
			       "Live thread: {k} {e}.",
			       "Me {t}: refreshing the news about {k} every minute.",
			       "My timeline is nothing but {k} right now and honestly that's {s}.",
			       "{k}: {s}. That's the post.",
			       "Still processing that {k} {e}. {c}",
			       "Not {p}. {k} {e}.",
			       "So {k} {e}? {S}.",
			       "Hearing that {k} {e}. Can anyone confirm?",
			       "{k} {e} and I am not ok. {c}"),
		.first = L("james", "mary", "alex", "sam", "emma", "olivia", "noah", "liam",
			   "ava", "mia", "ethan", "lucy", "jack", "grace", "owen", "chloe",
			   "ben", "ruby", "leo", "isla", "max", "ella", "finn", "zoe", "kate",
			   "tom", "nina", "ravi|Ravi", "priya|Priya", "wei|Wei", "aisha|Aisha",
			   "tariq|Tariq", "kofi|Kofi", "amara|Amara", "jordan", "casey", "riley",
			   "morgan", "dana", "robin"),
		.last = L("smith", "jones", "taylor", "brown", "wilson", "evans", "walker",
			  "wright", "hughes", "green", "hall", "wood", "clarke", "patel", "khan",
			  "nguyen", "okafor", "chen", "murphy", "kelly", "obrien|O'Brien",
			  "campbell", "reid", "fraser", "lee", "park", "garcia", "silva"),
		.notes = L("<p>Software person. Coffee, cats and bad puns.</p>",
			   "<p>Photographer. Mostly clouds.</p>",
			   "<p>he/him · gardening, bikes, open source</p>",
			   "<p>Reading, knitting, birding. Opinions my own.</p>",
			   "<p>Tea &amp; code. Sometimes both at once.</p>",
			   "<p>she/her. Librarian by day, synth nerd by night.</p>",
			   "<p>Trying to touch grass more often.</p>",
			   "<p>Posts about trains, maps &amp; city planning.</p>",
			   "<p>Nurse. Runner. Terrible at replying.</p>", ""),
		.tags = L("caturday", "photography", "coffee", "OpenSource", "books"),
	},
	[DE] = {
		.code = "de", .spaced = true, .share = 12,
		.nouns = L("der Kaffee", "das Wetter", "die Katze", "der Zug", "die Bahn",
			   "das Fahrrad", "der Hund", "der Garten", "das Brot", "der Tee",
			   "das Wochenende", "das Projekt", "das Meeting", "der Film", "das Buch",
			   "die Musik", "das Konzert", "der Laptop", "das Handy", "der Server",
			   "das Update", "der Bug", "die Deadline", "der Bus", "die Straßenbahn",
			   "der Park", "der Sonnenuntergang", "der Regen", "das Abendessen",
			   "die Suppe", "die Pizza", "die Bäckerei", "der Kuchen", "das Rezept",
			   "die Pflanze", "die Tomate", "der Himmel", "der Mond", "das Büro",
			   "der Markt", "der Wald", "der See", "die Stadt", "das Museum",
			   "die Bibliothek", "das Fußballspiel", "der Podcast", "die Tastatur",
			   "der Drucker", "das Feierabendbier"),
		.pos = L("toll", "super", "großartig", "wunderbar", "schön", "klasse", "genial",
			 "fantastisch", "herrlich", "gemütlich", "lecker", "spannend", "perfekt",
			 "cool", "angenehm", "beeindruckend", "lustig", "entspannt", "prima",
			 "traumhaft"),
		.neg = L("schrecklich", "furchtbar", "nervig", "schlecht", "langweilig", "kaputt",
			 "ärgerlich", "mies", "traurig", "anstrengend", "katastrophal",
			 "enttäuschend", "laut", "grauenhaft", "peinlich", "stressig", "übel",
			 "chaotisch", "kalt", "öde"),
		.intens = L("so", "echt", "wirklich", "total", "ziemlich", "mega", "etwas",
			    "sehr"),
		.acts = L("das Fahrrad repariert", "Brot gebacken", "die Küche aufgeräumt",
			  "den Bug gefunden", "einen langen Spaziergang gemacht",
			  "das Buch ausgelesen", "alle Mails beantwortet", "Tomaten gepflanzt",
			  "den Server migriert", "ein neues Rezept ausprobiert"),
		.events = L("ist schon wieder kaputt", "ist endlich da", "hat mir den Tag gerettet",
			    "ist ausverkauft", "funktioniert wieder", "hat Verspätung",
			    "riecht himmlisch"),
		.times = L("heute", "heute Morgen", "gestern Abend", "gerade", "diese Woche",
			   "schon wieder", "den ganzen Tag", "am Wochenende"),
		.opens = L("", "", "", "Puh,", "Juhu,", "Oh nein,", "Wow,", "Ach,", "Na ja,",
			   "Update:", "PSA:"),
		.closes = L("", "", "", "Naja.", "Schönen Abend!", "Mal sehen.", "Hilfe.", "lol",
			    "Prost!", "Seufz.", "Weiter geht's."),
		.bg_tpl = L("{o} {n} ist {t} {x} {s}. {c}",
			    "Habe {t} {a}. Fühlt sich {s} an.",
			    "Warum ist {n} immer so {q}? {c}",
			    "{o} {n} war {t} {x} {s}.",
			    "{n} {e}. {c}",
			    "Findet ihr {n} auch so {s}?",
			    "Ich mag {n}, aber {t} ist es {x} {q}.",
			    "Nichts ist besser als {n} {t}.",
			    "{S}! {n} war {S}!",
			    "Kurze Frage: ist {n} {s} oder liegt das an mir?",
			    "F&A zu {n} {t}, her mit euren Fragen!",
			    "{n} ist nicht {p}. {c}",
			    "Endlich {a}! {c}"),
		.story_tpl = L("{k} {e}! {c}",
			       "{o} {k} {e} und das ist {x} {s}.",
			       "Live-Thread: {k} {e}.",
			       "Kann nicht glauben: {k} {e}. {c}",
			       "{k}: {s}. Mehr sag ich nicht.",
			       "Meine Timeline {t}: {k}, {k}, {k}.",
			       "Was ist da los? {k} {e}."),
		.first = L("jonas", "lena", "lukas", "anna", "felix", "marie", "paul", "sophie",
			   "jan", "laura", "tim", "julia", "moritz", "hannah", "niklas", "lea",
			   "fabian", "katrin", "jorg|Jörg", "jurgen|Jürgen", "sabine", "uwe",
			   "bjorn|Björn", "anke"),
		.last = L("mueller|Müller", "schmidt", "schneider", "fischer", "weber", "meyer",
			  "wagner", "becker", "schulz", "hoffmann", "koch", "richter", "klein",
			  "wolf", "koehler|Köhler", "schroeder|Schröder", "neumann", "zimmermann"),
		.notes = L("<p>Radfahrerin, Kaffeetrinkerin, Softwareentwicklerin.</p>",
			   "<p>Hier wegen der Katzenbilder.</p>",
			   "<p>Bahnfahrer aus Überzeugung. Meistens verspätet.</p>",
			   "<p>Linux, Garten &amp; Gedöns.</p>", ""),
		.tags = L("Feierabend", "Kaffee", "Fahrrad", "Wetter"),
	},
	[FR] = {
		.code = "fr", .spaced = true, .share = 8,
		.nouns = L("le café", "la pluie", "le chat", "le train", "le vélo", "le chien",
			   "le jardin", "le pain", "le thé", "le week-end", "le projet",
			   "la réunion", "le film", "le livre", "la musique", "le concert",
			   "l'ordinateur", "le téléphone", "le serveur", "la mise à jour", "le bug",
			   "le métro", "le bus", "le parc", "le coucher de soleil", "le dîner",
			   "la soupe", "la pizza", "la boulangerie", "le gâteau", "la recette",
			   "la plante", "le ciel", "la lune", "le bureau", "le marché", "la forêt",
			   "la mer", "la ville", "le musée", "la bibliothèque", "le podcast",
			   "le clavier", "l'imprimante", "le croissant"),
		.pos = L("super", "magnifique", "formidable", "incroyable", "agréable", "sympa",
			 "chouette", "top", "extraordinaire", "adorable", "fantastique", "magique",
			 "superbe", "drôle", "remarquable", "confortable"),
		.neg = L("horrible", "terrible", "pénible", "triste", "catastrophique", "lamentable",
			 "épouvantable", "désagréable", "médiocre", "insupportable", "bizarre",
			 "moche", "relou", "minable", "ridicule", "stupide"),
		.intens = L("vraiment", "très", "trop", "super", "assez", "un peu", "tellement",
			    "plutôt"),
		.acts = L("fait du pain", "réparé mon vélo", "rangé la cuisine", "fini le livre",
			  "corrigé le bug", "marché au bord de la rivière", "planté des tomates",
			  "répondu à tous les mails", "testé une nouvelle recette"),
		.events = L("est encore en panne", "est enfin arrivé", "m'a sauvé la journée",
			    "est complet", "remarche", "est en retard"),
		.times = L("aujourd'hui", "ce matin", "hier soir", "en ce moment", "cette semaine",
			   "encore", "toute la journée", "ce week-end"),
		.opens = L("", "", "", "Bon,", "Alors,", "Bref,", "Waouh,", "Oh là là,", "Ah,",
			   "Update :"),
		.closes = L("", "", "", "Bref.", "Bonne soirée !", "On verra.", "Au secours.",
			    "mdr", "Santé !", "Soupir.", "Voilà."),
		.bg_tpl = L("{o} {n} est {x} {s} {t}. {c}",
			    "{t}, j'ai {a}. C'est {s} !",
			    "Pourquoi {n} est toujours aussi {q} ? {c}",
			    "Franchement, {n} était {x} {s}.",
			    "{n} {e}. {c}",
			    "Vous trouvez aussi que {n} est {s} ?",
			    "J'adore {n}, mais {t} c'est {x} {q}.",
			    "Rien ne vaut {n} {t}.",
			    "Petite question : {n}, c'est {s} ou pas ?",
			    "{n} n'est pas {p} du tout. {c}",
			    "{S} ! {n}, {S} !"),
		.story_tpl = L("{k} {e} ! {c}",
			       "{o} {k} {e} et c'est {x} {s}.",
			       "Fil en direct : {k} {e}.",
			       "Je n'y crois pas, {k} {e}. {c}",
			       "{k} : {s}. C'est tout.",
			       "On ne parle que de ça {t} : {k}."),
		.first = L("camille", "lucas", "lea|Léa", "hugo", "chloe|Chloé", "louis", "manon",
			   "jules", "ines|Inès", "theo|Théo", "sarah", "nathan", "zoe|Zoé",
			   "mathis", "clement|Clément", "amelie|Amélie", "gaelle|Gaëlle",
			   "francois|François"),
		.last = L("martin", "bernard", "dubois", "thomas", "robert", "richard", "petit",
			  "durand", "leroy", "moreau", "simon", "laurent", "lefebvre|Lefèbvre",
			  "michel", "garnier"),
		.notes = L("<p>Dessinatrice. Café et chats.</p>",
			   "<p>Dév web, vélo, jardinage.</p>",
			   "<p>Prof de maths. Blagues nulles garanties.</p>", ""),
		.tags = L("café", "Paris", "BD", "cuisine"),
	},
	[ES] = {
		.code = "es", .spaced = true, .share = 8,
		.nouns = L("el café", "la lluvia", "el gato", "el tren", "la bici", "el perro",
			   "el jardín", "el pan", "el té", "el finde", "el proyecto", "la reunión",
			   "la película", "el libro", "la música", "el concierto", "el portátil",
			   "el móvil", "el servidor", "la actualización", "el bug", "el metro",
			   "el autobús", "el parque", "el atardecer", "la cena", "la sopa",
			   "la pizza", "la panadería", "la tarta", "la receta", "la planta",
			   "el cielo", "la luna", "la oficina", "el mercado", "el bosque", "el mar",
			   "la ciudad", "el museo", "la biblioteca", "el podcast", "el teclado",
			   "la impresora", "la tortilla"),
		.pos = L("genial", "increíble", "espectacular", "impresionante", "agradable",
			 "excelente", "fenomenal", "ideal", "interesante", "alucinante",
			 "emocionante", "adorable", "formidable", "brillante", "top", "bestial"),
		.neg = L("terrible", "horrible", "insoportable", "deprimente", "triste", "fatal",
			 "decepcionante", "lamentable", "frustrante", "agobiante", "irritante",
			 "infumable", "débil", "gris"),
		.intens = L("muy", "súper", "bastante", "realmente", "un poco", "tan",
			    "demasiado"),
		.acts = L("hecho pan", "arreglado la bici", "limpiado la cocina",
			  "terminado el libro", "corregido el bug", "salido a correr",
			  "plantado tomates", "probado una receta nueva"),
		.events = L("se ha vuelto a romper", "por fin llegó", "me alegró el día",
			    "está agotado", "vuelve a funcionar", "llega tarde"),
		.times = L("hoy", "esta mañana", "anoche", "ahora mismo", "esta semana",
			   "otra vez", "todo el día", "este finde"),
		.opens = L("", "", "", "Bueno,", "Vaya,", "Uf,", "Guau,", "Ay,", "Oye,",
			   "Update:"),
		.closes = L("", "", "", "En fin.", "¡Buenas noches!", "Ya veremos.", "Socorro.",
			    "jaja", "¡Salud!", "Suspiro.", "Eso."),
		.bg_tpl = L("{o} {n} está {x} {s} {t}. {c}",
			    "{t} he {a}. ¡Qué {s}!",
			    "¿Por qué {n} siempre es tan {q}? {c}",
			    "Sinceramente, {n} fue {x} {s}.",
			    "{n} {e}. {c}",
			    "¿A alguien más le parece que {n} es {s}?",
			    "Me encanta {n}, pero {t} está {x} {q}.",
			    "Nada como {n} {t}.",
			    "{n} no es {p} para nada. {c}",
			    "¡{S}! {n}, {S}."),
		.story_tpl = L("¡{k} {e}! {c}",
			       "{o} {k} {e} y es {x} {s}.",
			       "Hilo en directo: {k} {e}.",
			       "No me lo creo, {k} {e}. {c}",
			       "{k}: {s}. Eso es todo.",
			       "Mi timeline {t} es solo {k}."),
		.first = L("lucia|Lucía", "mateo", "sofia|Sofía", "hugo", "martina", "pablo",
			   "valeria", "diego", "carmen", "javier", "elena", "alejandro", "paula",
			   "jose|José", "maria|María", "andres|Andrés", "ines|Inés",
			   "nicolas|Nicolás"),
		.last = L("garcia|García", "rodriguez|Rodríguez", "gonzalez|González",
			  "fernandez|Fernández", "lopez|López", "martinez|Martínez",
			  "sanchez|Sánchez", "perez|Pérez", "gomez|Gómez", "ruiz", "diaz|Díaz",
			  "moreno", "munoz|Muñoz"),
		.notes = L("<p>Programador, ciclista y fan del buen café.</p>",
			   "<p>Fotografía, montaña y libros.</p>",
			   "<p>Maestra. Aquí por los gatos.</p>", ""),
		.tags = L("fútbol", "música", "café"),
	},
	[PT] = {
		.code = "pt", .spaced = true, .share = 7,
		.nouns = L("o café", "a chuva", "o gato", "o trem", "a bicicleta", "o cachorro",
			   "o jardim", "o pão", "o chá", "o fim de semana", "o projeto",
			   "a reunião", "o filme", "o livro", "a música", "o show", "o notebook",
			   "o celular", "o servidor", "a atualização", "o bug", "o metrô",
			   "o ônibus", "o parque", "o pôr do sol", "o jantar", "a sopa", "a pizza",
			   "a padaria", "o bolo", "a receita", "a planta", "o céu", "a lua",
			   "o escritório", "a feira", "a floresta", "o mar", "a cidade", "o museu",
			   "a biblioteca", "o podcast", "o teclado", "a impressora",
			   "o pão de queijo"),
		.pos = L("incrível", "excelente", "legal", "genial", "impressionante", "agradável",
			 "sensacional", "emocionante", "fenomenal", "adorável", "top", "demais",
			 "brilhante"),
		.neg = L("terrível", "horrível", "insuportável", "deprimente", "triste",
			 "lamentável", "frustrante", "decepcionante", "irritante", "estressante",
			 "desagradável"),
		.intens = L("muito", "super", "bem", "bastante", "meio", "realmente",
			    "extremamente"),
		.acts = L("fiz pão", "consertei a bicicleta", "limpei a cozinha",
			  "terminei o livro", "corrigi o bug", "saí para correr",
			  "plantei tomates", "testei uma receita nova"),
		.events = L("quebrou de novo", "finalmente chegou", "salvou meu dia", "esgotou",
			    "voltou a funcionar", "atrasou"),
		.times = L("hoje", "hoje de manhã", "ontem à noite", "agora", "esta semana",
			   "de novo", "o dia todo", "neste fim de semana"),
		.opens = L("", "", "", "Bom,", "Nossa,", "Ufa,", "Caramba,", "Ai,", "Gente,",
			   "Update:"),
		.closes = L("", "", "", "Enfim.", "Boa noite!", "Vamos ver.", "Socorro.", "kkkk",
			    "Saúde!", "Suspiro.", "É isso."),
		.bg_tpl = L("{o} {n} está {x} {s} {t}. {c}",
			    "{t} eu {a}. Que {s}!",
			    "Por que {n} é sempre tão {q}? {c}",
			    "Sinceramente, {n} foi {x} {s}.",
			    "{n} {e}. {c}",
			    "Mais alguém acha {n} {s}?",
			    "Eu amo {n}, mas {t} está {x} {q}.",
			    "Nada como {n} {t}.",
			    "{n} não é {p}. {c}",
			    "{S}! {n}, {S}!"),
		.story_tpl = L("{k} {e}! {c}",
			       "{o} {k} {e} e isso é {x} {s}.",
			       "Fio ao vivo: {k} {e}.",
			       "Não acredito, {k} {e}. {c}",
			       "{k}: {s}. Só isso.",
			       "Minha timeline {t} é só {k}."),
		.first = L("joao|João", "ana", "pedro", "beatriz", "lucas", "mariana", "gabriel",
			   "julia|Júlia", "rafael", "larissa", "thiago", "camila", "bruno",
			   "leticia|Letícia", "goncalo|Gonçalo", "ines|Inês"),
		.last = L("silva", "santos", "oliveira", "souza", "pereira", "costa", "ferreira",
			  "almeida", "ribeiro", "carvalho", "gomes", "araujo|Araújo"),
		.notes = L("<p>Fotógrafa amadora. Café e livros.</p>",
			   "<p>Dev, gamer e pai de gato.</p>",
			   "<p>Ciência, música e pão de queijo.</p>", ""),
		.tags = L("futebol", "café", "música"),
	},
	[JA] = {
		.code = "ja", .spaced = false, .share = 7,
		.nouns = L("猫", "コーヒー", "天気", "電車", "仕事", "ラーメン", "桜", "雨", "週末",
			   "映画", "本", "音楽", "会議", "散歩", "写真", "空", "月", "夕焼け", "弁当",
			   "お茶", "犬", "公園", "駅", "新幹線", "パン", "カレー", "ゲーム", "アニメ",
			   "漫画", "締め切り", "サーバー", "アップデート", "バグ", "自転車", "ライブ",
			   "カフェ", "お寿司", "うどん", "たこ焼き", "紅葉", "富士山", "温泉",
			   "コンビニ", "プリン", "キーボード"),
		.pos = L("最高", "素晴らしい", "嬉しい", "楽しい", "綺麗", "美味しい", "素敵", "幸せ",
			 "面白い", "可愛い", "気持ちいい", "感動的"),
		.neg = L("最悪", "辛い", "悲しい", "疲れた", "ひどい", "残念", "眠い", "つまらない",
			 "怖い", "寒い", "うるさい", "しんどい"),
		.intens = L("本当に", "めっちゃ", "とても", "ちょっと", "かなり", "すごく", ""),
		.acts = L("パンを焼いた", "散歩した", "部屋を片付けた", "本を読み終えた",
			  "バグを直した", "ラーメンを食べた", "早起きした", "写真を撮りに行った"),
		.events = L("がまた壊れた", "がやっと届いた", "で元気が出た", "が売り切れ",
			    "が遅れてる", "が復活した"),
		.times = L("今日", "今朝", "昨日の夜", "今", "今週", "最近", "一日中", "週末"),
		.opens = L("", "", "", "ねえ、", "正直、", "うーん、", "やった！", "あー、", "速報："),
		.closes = L("", "", "", "笑", "w", "（泣）", "がんばろう。", "おやすみ。",
			    "ありがとう！", "まあいいか。"),
		.bg_tpl = L("{t}の{n}、{x}{s}。{c}",
			    "{o}{n}が{x}{s}！",
			    "{t}は{a}。{s}。",
			    "やっと{a}！{c}",
			    "{n}と{n}、どっちも{s}。",
			    "{k}{e}。{c}",
			    "{n}って{x}{s}よね",
			    "{t}、{n}を見て{s}気分。"),
		.story_tpl = L("{k}{e}！{c}",
			       "{o}{k}{e}。{x}{s}。",
			       "{t}は{k}の話題ばかり。",
			       "{k}、{x}{s}…",
			       "みんな{k}見てる？{s}！"),
		.first = L("haruto|はると", "yui|ゆい", "sota|蒼太", "hina|ひな", "ren|蓮",
			   "sakura|さくら", "yuto|悠斗", "mei|芽衣", "kenji|健二", "aoi|葵",
			   "takumi|拓海", "riko|りこ", "daichi|大地", "mio|澪"),
		.last = L("sato|佐藤", "suzuki|鈴木", "takahashi|高橋", "tanaka|田中",
			  "watanabe|渡辺", "ito|伊藤", "yamamoto|山本", "nakamura|中村",
			  "kobayashi|小林", "kato|加藤"),
		.notes = L("<p>エンジニア。猫と珈琲が好き。</p>", "<p>写真とラーメンの記録。</p>",
			   "<p>東京在住。のんびり投稿します。</p>", ""),
		.tags = L("猫", "ラーメン", "写真", "今日の空"),
	},
};

size_t demo_vocab_lang_count(void)
{
	return NLANGS;
}

const char *demo_vocab_lang_code(size_t lang)
{
	return lang < NLANGS ? langs[lang].code : NULL;
}

/* --------------------------------------------------------- steady topics */

struct topic {
	const char *tag;
	struct wl subjects;   /* English subjects for {k} */
};

/* Ordered by popularity (Zipf rank). */
static const struct topic topics[] = {
	{ "caturday", L("my cat", "the kitten", "cat naps") },
	{ "photography", L("film photography", "golden hour", "my new lens") },
	{ "coffee", L("a flat white", "pour-over coffee", "the espresso machine") },
	{ "OpenSource", L("open source", "my first pull request", "the maintainers") },
	{ "linux", L("Linux", "my window manager", "the kernel update") },
	{ "gardening", L("the vegetable patch", "my tomatoes", "compost") },
	{ "bookstodon", L("this novel", "my reading list", "the library") },
	{ "music", L("this album", "vinyl", "the band") },
	{ "MastoArt", L("my sketchbook", "watercolours", "this painting") },
	{ "hiking", L("the trail", "the summit", "a long hike") },
	{ "cooking", L("homemade ramen", "this curry", "the soup") },
	{ "baking", L("sourdough", "cinnamon rolls", "banana bread") },
	{ "science", L("peer review", "the new paper", "lab work") },
	{ "space", L("the night sky", "Jupiter", "the ISS") },
	{ "birds", L("the robin", "a heron", "the bird feeder") },
	{ "running", L("my morning run", "interval training", "the new shoes") },
	{ "cycling", L("the bike lane", "my commute by bike", "the new bike") },
	{ "gaming", L("this indie game", "the boss fight", "retro games") },
	{ "rust", L("the borrow checker", "Rust", "async Rust") },
	{ "python", L("Python", "type hints", "the new Python release") },
	{ "selfhosting", L("my homelab", "the Raspberry Pi", "backups") },
	{ "privacy", L("privacy", "end-to-end encryption", "tracking cookies") },
	{ "climate", L("the heatwave", "solar panels", "the climate report") },
	{ "tea", L("green tea", "a pot of tea", "oolong") },
	{ "knitting", L("this sweater", "the knitting project", "yarn") },
	{ "podcasts", L("this podcast", "the latest episode", "audiobooks") },
	{ "film", L("the film", "the director's cut", "the cinema") },
	{ "jazz", L("live jazz", "this record", "the saxophone solo") },
	{ "history", L("medieval history", "the archive", "old maps") },
	{ "urbanism", L("trams", "the new bike lanes", "walkable cities") },
	{ "DogsOfMastodon", L("my dog", "the puppy", "the dog park") },
	{ "fediverse", L("the fediverse", "this instance", "the timeline") },
	{ "introduction", L("this place", "the fediverse", "my first post") },
	{ "retrocomputing", L("my old Amiga", "floppy disks", "the C64") },
	{ "astronomy", L("the telescope", "the Orion nebula", "meteor showers") },
	{ "MondayMotivation", L("Monday", "the to-do list", "the week ahead") },
};
#define NTOPICS (sizeof topics / sizeof *topics)

/* ----------------------------------------------------------------- stories */

struct story_lang {
	uint8_t lang;
	struct wl subjects;   /* {k}: what the story is about */
	struct wl events;     /* {e}: what happened */
};

struct story {
	const char *tags[2];  /* tags[0] is the main one */
	uint8_t home;         /* language whose accounts post most about it */
	double mood;          /* -1 .. 1 */
	const char *domain;   /* where its links go */
	struct wl paths;
	struct wl emoji;
	const char *spoiler;  /* content warning some posters add, or NULL */
	uint8_t nlangs;
	struct story_lang langs[5];  /* langs[0] is English */
};

static const struct story stories[] = {
	{ { "NovaPhone", "LumenEvent" }, EN, 0.25, "www.lumen.example",
	  L("/novaphone", "/newsroom/novaphone-launch",
	    "/store/novaphone?color=midnight&storage=256"),
	  L("📱", "🚀", "🤩", "💸", "👀"), NULL, 3, {
		{ EN, L("the NovaPhone", "the Lumen keynote", "the NovaPhone camera",
			"the new NovaPhone", "the NovaPhone price", "the NovaPhone battery"),
		  L("just got announced", "sold out in minutes", "looks incredible",
		    "ships next week", "has no headphone jack again",
		    "got a huge camera upgrade", "crashed the store website",
		    "just sent $LUMN up 8%") },
		{ DE, L("das NovaPhone", "die Lumen-Keynote", "die neue NovaPhone-Kamera"),
		  L("wurde gerade vorgestellt", "ist schon ausverkauft", "kostet wie viel?!",
		    "sieht richtig gut aus") },
		{ JA, L("NovaPhone", "Lumenの発表会", "新しいNovaPhone"),
		  L("が発表された", "がもう売り切れ", "のカメラがすごい", "が高すぎる") },
	} },
	{ { "CupFinal", "GoRovers" }, ES, 0.5, "www.sportsdesk.example",
	  L("/football/cup-final-live", "/football/rovers-lift-the-cup",
	    "/football/penalty-shootout-report"),
	  L("⚽", "🏆", "🎉", "😱", "🙌🏽", "🔥"), NULL, 4, {
		{ EN, L("the cup final", "Rovers", "that penalty", "the Rovers keeper",
			"extra time", "the final whistle"),
		  L("just scored!!", "is going to penalties", "was an absolute thriller",
		    "won the cup", "hit the post twice", "got a red card") },
		{ ES, L("la final", "el Rovers", "ese penalti", "el portero"),
		  L("acaba de marcar", "se va a la prórroga", "fue una locura",
		    "ganó la copa") },
		{ PT, L("a final", "o Rovers", "o goleiro", "esse pênalti"),
		  L("acabou de marcar", "vai para os pênaltis", "foi emocionante demais",
		    "ganhou a taça") },
		{ DE, L("das Pokalfinale", "Rovers", "der Elfmeter", "der Torwart"),
		  L("hat gerade getroffen", "geht in die Verlängerung", "war der Wahnsinn",
		    "hat den Pokal geholt") },
	} },
	{ { "CloudNineDown", "outage" }, EN, -0.65, "status.cloudnine.example",
	  L("/incidents/api-degradation", "/", "/incidents/elevated-error-rates"),
	  L("🔥", "😡", "💀", "🙃", "😩", "🫠"), NULL, 2, {
		{ EN, L("CloudNine", "the CloudNine API", "the CloudNine dashboard",
			"our whole stack", "the status page", "the CloudNine outage"),
		  L("is down again", "went down for everyone", "keeps returning 503 errors",
		    "is still broken", "just came back up", "says everything is fine",
		    "took out half the internet", "just knocked $CLDN down 6%") },
		{ DE, L("CloudNine", "die CloudNine-API", "unser Shop"),
		  L("ist schon wieder down", "liefert nur Fehler", "geht wieder",
		    "ist komplett ausgefallen") },
	} },
	{ { "StormAlba", "StaySafe" }, DE, -0.45, "www.stormwatch.example",
	  L("/warnings/storm-alba", "/live/storm-alba-updates",
	    "/maps/wind?region=north&level=red"),
	  L("🌧️", "⛈️", "🌪️", "💨", "🌊", "😬"), NULL, 3, {
		{ EN, L("Storm Alba", "the wind", "the power", "the river",
			"the storm warning", "the train line"),
		  L("is getting worse", "knocked out the power", "flooded the whole street",
		    "is finally passing", "cancelled every train",
		    "got upgraded to a red warning") },
		{ DE, L("Sturm Alba", "der Wind", "der Strom", "die Bahnstrecke"),
		  L("wird immer schlimmer", "ist ausgefallen", "hat den Keller geflutet",
		    "ist endlich vorbei") },
		{ FR, L("la tempête Alba", "le vent", "le courant", "la rivière"),
		  L("s'intensifie", "a coupé l'électricité", "a inondé la rue",
		    "est enfin passée") },
	} },
	{ { "DevConf26", "DevConf" }, EN, 0.55, "devconf.example",
	  L("/schedule", "/talks/scaling-sqlite", "/talks/keynote-day-2",
	    "/slides/rust-in-production.pdf"),
	  L("🎤", "💻", "🤓", "🙌", "☕", "🧑🏽‍💻"), NULL, 3, {
		{ EN, L("the DevConf keynote", "this talk on SQLite", "the hallway track",
			"the live demo", "the DevConf workshop", "the speaker"),
		  L("is packed", "just blew my mind", "went perfectly", "is streaming now",
		    "ran out of coffee", "got a standing ovation") },
		{ FR, L("la keynote de DevConf", "cette conférence", "l'atelier", "la démo"),
		  L("est pleine", "était passionnante", "commence maintenant",
		    "a planté en direct") },
		{ JA, L("DevConfの基調講演", "このセッション", "ライブデモ"),
		  L("が満席", "が面白すぎる", "が始まった", "で会場が盛り上がった") },
	} },
	{ { "Skylark3", "liftoff" }, EN, 0.65, "www.skylarkspace.example",
	  L("/missions/skylark-3", "/live", "/news/booster-landing"),
	  L("🚀", "🛰️", "🌍", "✨", "🤞", "🙏"), NULL, 3, {
		{ EN, L("Skylark 3", "the launch", "the booster", "the countdown",
			"the webcast", "the second stage"),
		  L("just lifted off", "is holding at T-minus 10", "landed perfectly",
		    "reached orbit", "got scrubbed for weather", "separated cleanly") },
		{ ES, L("el Skylark 3", "el lanzamiento", "el propulsor"),
		  L("acaba de despegar", "llegó a la órbita", "aterrizó perfecto") },
		{ JA, L("Skylark 3", "打ち上げ", "ブースター"),
		  L("が打ち上がった", "が軌道に到達", "の着陸に成功", "が延期に") },
	} },
	{ { "SolarEclipse", "eclipse" }, ES, 0.7, "www.astronomy-today.example",
	  L("/eclipse/live", "/eclipse/how-to-watch-safely", "/gallery/totality"),
	  L("🌑", "🌞", "😎", "📷", "🤩", "☁️"), NULL, 4, {
		{ EN, L("the eclipse", "totality", "the corona", "the sky",
			"the crowd on the hill", "the cloud cover"),
		  L("was breathtaking", "is starting now", "lasted two minutes",
		    "got really dark", "ruined the view", "made everyone cheer") },
		{ ES, L("el eclipse", "la totalidad", "el cielo"),
		  L("fue impresionante", "está empezando", "se oscureció por completo") },
		{ PT, L("o eclipse", "o céu"),
		  L("foi incrível", "está começando", "ficou escuro") },
		{ JA, L("日食", "皆既日食", "空"),
		  L("が始まった", "が綺麗すぎた", "が曇って見えない") },
	} },
	{ { "Starforge", "StarforgeLaunch" }, EN, 0.05, "starforge-game.example",
	  L("/patch-notes/1-0-1", "/news/launch-day", "/support/server-status"),
	  L("🎮", "👾", "🐛", "😤", "🕹️", "😂"), "Starforge spoilers", 4, {
		{ EN, L("Starforge", "the Starforge servers", "the login queue",
			"the new patch", "the opening cutscene", "the soundtrack"),
		  L("is finally out", "crashed on launch", "has a 40 minute queue",
		    "fixed the save bug", "looks gorgeous", "keeps disconnecting me") },
		{ DE, L("Starforge", "der Server", "die Warteschlange"),
		  L("ist endlich draußen", "stürzt ständig ab", "sieht fantastisch aus") },
		{ FR, L("Starforge", "le serveur", "le patch"),
		  L("vient de sortir", "plante sans arrêt", "rame complètement",
		    "marche enfin") },
		{ JA, L("Starforge", "サーバー", "新パッチ"),
		  L("がついに発売", "が落ちた", "で待ち時間40分", "が神ゲーすぎる") },
	} },
	{ { "LeakyBank", "DataBreach" }, EN, -0.75, "www.securityweek.example",
	  L("/news/leakybank-breach", "/advisories/reset-your-password",
	    "/analysis/how-the-breach-happened"),
	  L("🔓", "😱", "🤬", "🔐", "😬", "💸"), NULL, 2, {
		{ EN, L("LeakyBank", "the LeakyBank breach", "my bank app",
			"the password reset page", "their support line", "the breach notice"),
		  L("leaked millions of accounts", "is asking everyone to reset passwords",
		    "still hasn't said anything", "is completely overwhelmed",
		    "stored passwords in plain text?!", "emailed me at 2am",
		    "sent $LKYB down 20% before lunch") },
		{ DE, L("LeakyBank", "das Datenleck", "die Banking-App"),
		  L("hat Millionen Konten geleakt", "ist überlastet",
		    "schweigt immer noch") },
	} },
	{ { "Bahnstreik", "TrainStrike" }, DE, -0.4, "www.transit-news.example",
	  L("/strike/live", "/strike/which-trains-run", "/strike/negotiations"),
	  L("🚆", "😤", "🚲", "😩", "⏰", "🚌"), NULL, 3, {
		{ EN, L("the train strike", "my train", "the replacement bus", "the union",
			"the station"),
		  L("shut down the whole network", "got cancelled again", "is packed",
		    "is still negotiating", "is finally over") },
		{ DE, L("der Bahnstreik", "mein Zug", "der Ersatzverkehr", "die Gewerkschaft",
			"der Hauptbahnhof"),
		  L("legt alles lahm", "fällt schon wieder aus", "ist völlig überfüllt",
		    "verhandelt weiter", "ist endlich vorbei") },
		{ FR, L("la grève", "mon train", "le RER"),
		  L("paralyse tout", "est encore supprimé", "est bondé",
		    "continue demain") },
	} },
	{ { "SongContest", "12points" }, FR, 0.55, "www.songcontest.example",
	  L("/final/running-order", "/final/results", "/artists/aurora-lane"),
	  L("🎤", "🎶", "💃", "🏳️‍🌈", "🇩🇪", "🇫🇷", "🇪🇸", "🇵🇹", "🇯🇵"), "spoilers", 5, {
		{ EN, L("the song contest", "this performance", "the jury vote",
			"the key change", "the wind machine", "the interval act"),
		  L("is absolutely iconic", "deserves twelve points", "was robbed",
		    "just gave me chills", "won the whole thing") },
		{ DE, L("der Song Contest", "dieser Auftritt", "das Juryvoting"),
		  L("ist legendär", "verdient zwölf Punkte", "war ein Raub") },
		{ FR, L("le concours", "cette performance", "le vote du jury"),
		  L("est iconique", "mérite douze points", "m'a donné des frissons") },
		{ ES, L("el festival", "esta actuación", "el voto del jurado"),
		  L("es icónica", "merece doce puntos", "me puso la piel de gallina") },
		{ PT, L("o festival", "essa apresentação", "o voto do júri"),
		  L("é icônica", "merece doze pontos", "me deu arrepios") },
	} },
	{ { "CityMarathon", "marathon" }, EN, 0.6, "www.citymarathon.example",
	  L("/results", "/live-tracking?bib=4172&split=30k", "/course-map"),
	  L("🏃‍♀️", "🏃🏾‍♂️", "🏅", "💪", "👏", "🥵"), NULL, 3, {
		{ EN, L("the city marathon", "the leader", "mile twenty", "the finish line",
			"the crowd", "my sister"),
		  L("just started", "set a new course record", "is brutal",
		    "crossed the line in under three hours", "was electric") },
		{ ES, L("el maratón", "el líder", "la meta"),
		  L("acaba de empezar", "batió el récord", "fue brutal") },
		{ JA, L("シティマラソン", "先頭集団", "ゴール"),
		  L("がスタートした", "で大会新記録", "が感動的だった") },
	} },
};
#define NSTORIES (sizeof stories / sizeof *stories)

size_t demo_vocab_story_count(void)
{
	return NSTORIES;
}

const char *demo_vocab_story_tag(size_t story)
{
	return story < NSTORIES ? stories[story].tags[0] : NULL;
}

/* -------------------------------------------------- emoji, links, instances */

/* Singles, variation selectors, skin tones, ZWJ sequences and flags. */
static const struct wl emoji_pos = L("😂", "❤️", "🎉", "👍", "🙏", "✨", "😍", "🥳", "🙌🏿",
				     "👍🏽", "💪🏼", "👋🏻", "😊", "🤩", "💯", "☕", "🌻",
				     "👩‍💻", "🧑‍🍳", "👨‍👩‍👧", "🏳️‍🌈", "🏳️‍⚧️", "❤️‍🔥",
				     "🧑🏽‍🚀", "🇩🇪", "🇯🇵", "🇫🇷", "🇪🇸", "🇧🇷", "🇬🇧");
static const struct wl emoji_neg = L("😭", "😡", "💔", "🙃", "😩", "🫠", "🤦‍♀️",
				     "🤷🏾‍♂️", "😬", "🥲", "👀", "💀", "😤", "🌧️");

struct link_site {
	const char *domain;
	struct wl paths;
};

/* Real, long-lived sites; paths are generic so no page is misquoted. */
static const struct link_site sites[] = {
	{ "en.wikipedia.org", L("/wiki/Sourdough", "/wiki/Tardigrade", "/wiki/Lighthouse",
				"/wiki/Mandelbrot_set", "/wiki/Fediverse", "/wiki/Aurora",
				"/wiki/Espresso", "/wiki/Haiku", "/wiki/Bicycle") },
	{ "github.com", L("/trendd/trendd", "/octo-org/dotfiles", "/pixelfox/tiny-raytracer",
			  "/quietotter/garden-sensor/issues/12") },
	{ "www.youtube.com", L("/watch?v=dQw4w9WgXcQ", "/watch?v=jNQXAC9IVRw&t=12s") },
	{ "codeberg.org", L("/forgejo/forgejo", "/pixelfox/notes") },
	{ "www.openstreetmap.org", L("/#map=12/52.5200/13.4050", "/about") },
	{ "archive.org", L("/details/texts", "/web/") },
	{ "xkcd.com", L("/927/", "/1205/", "/2347/") },
	{ "lwn.net", L("/Articles/", "/Kernel/") },
	{ "arxiv.org", L("/abs/1706.03762", "/list/cs.DB/recent") },
	{ "www.gutenberg.org", L("/ebooks/84", "/ebooks/1342") },
	{ "bandcamp.com", L("/discover", "/tag/ambient") },
};
#define NSITES (sizeof sites / sizeof *sites)

struct host {
	const char *name;
	int8_t lang;          /* -1: any */
	uint8_t weight;
};

/* Fictional remote instances (RFC 2606 .example names). */
static const struct host hosts[] = {
	{ "mastodon.example", -1, 30 }, { "toot.example", -1, 8 },
	{ "fosstodon.example", EN, 12 }, { "hachyderm.example", EN, 8 },
	{ "chaos.de.example", DE, 10 }, { "mamot.fr.example", FR, 8 },
	{ "mastodon.es.example", ES, 8 }, { "masto.pt.example", PT, 7 },
	{ "mstdn.jp.example", JA, 10 },
};

struct app {
	const char *name, *website;
};

static const struct app apps[] = {
	{ "Web", NULL }, { "Mastodon for iOS", "https://app.joinmastodon.org/ios" },
	{ "Mastodon for Android", "https://app.joinmastodon.org/android" },
	{ "Ivory for iOS", "https://tapbots.com/ivory/" }, { "Tusky", "https://tusky.app" },
	{ "Elk", "https://elk.zone" }, { "Phanpy", "https://phanpy.social" },
	{ "Ice Cubes", "https://github.com/Dimillian/IceCubesApp" },
	{ "Moshidon", "https://github.com/LucasGGamerM/moshidon" },
};
#define NAPPS (sizeof apps / sizeof *apps)

static const struct wl handle_adj = L("quiet", "pixel", "lazy", "cosmic", "rusty", "tiny",
				      "sleepy", "wild", "electric", "paper", "velvet",
				      "amber", "misty", "neon", "lunar", "salty", "brave",
				      "fuzzy", "gentle", "odd");
static const struct wl handle_noun = L("otter", "fox", "owl", "moth", "heron", "badger",
				       "panda", "comet", "lantern", "teapot", "robot",
				       "cactus", "walrus", "sparrow", "kettle", "pretzel",
				       "gecko", "raven", "dumpling", "marmot");
static const struct wl handle_emoji = L("🌻", "🦊", "☕", "🌈", "🐈", "🚲", "📚", "🎧",
					"🌱", "✨");
static const struct wl spoilers = L("food", "long post", "eye contact", "mental health",
				    "politics", "spoilers", "rant");

/* ------------------------------------------------------------ the generator */

#define SCHED_MAX 8   /* at most three stories overlap; a few more are planned ahead */

struct sched {
	int story;
	double start, ramp, hold, decay;   /* story-time ms */
	double weight;
};

struct demo_gen {
	struct rng rng;        /* status content and arrivals */
	struct rng sched_rng;  /* story schedule, independent of post volume */
	double speed;
	double t;              /* feed time of the last arrival, ms */
	struct demo_account *accounts;  /* owned */
	uint32_t naccounts;
	uint32_t *by_lang[NLANGS];      /* owned: account indexes per language */
	uint32_t nby_lang[NLANGS];
	struct sched sched[SCHED_MAX];  /* in start order; [0] oldest kept */
	int nsched;
	int order[NSTORIES];            /* rotation of story indexes */
	size_t order_pos;
	struct strbuf text;             /* scratch for one sentence */
};

static double story_level_of(const struct sched *s, double x)
{
	double u = x - s->start;
	if (u <= 0)
		return 0;
	if (u < s->ramp) {
		double v = u / s->ramp;
		return s->weight * v * v * (3 - 2 * v);
	}
	u -= s->ramp;
	if (u < s->hold)
		return s->weight;
	u -= s->hold;
	if (u < s->decay) {
		double v = 1 - u / s->decay;
		return s->weight * v * v;
	}
	return 0;
}

static double sched_end(const struct sched *s)
{
	return s->start + s->ramp + s->hold + s->decay;
}

static void sched_shuffle(struct demo_gen *g)
{
	int last = g->order[NSTORIES - 1];
	for (size_t i = NSTORIES - 1; i > 0; i--) {
		uint32_t j = rng_below(&g->sched_rng, (uint32_t)i + 1);
		int tmp = g->order[i];
		g->order[i] = g->order[j];
		g->order[j] = tmp;
	}
	/* The next round must not start with the story that just ended the last one. */
	if (g->order[0] == last) {
		g->order[0] = g->order[NSTORIES - 1];
		g->order[NSTORIES - 1] = last;
	}
	g->order_pos = 0;
}

/*
 * Plans stories until one starts after story time x. A story starts 60-90 s
 * after the previous one, but never before the one three back has ended, so
 * between one and three run at any moment.
 */
static void sched_extend(struct demo_gen *g, double x)
{
	while (g->nsched > 0 && sched_end(&g->sched[0]) < x - 1000.0 && g->nsched > 3) {
		memmove(&g->sched[0], &g->sched[1], (size_t)(g->nsched - 1) * sizeof g->sched[0]);
		g->nsched--;
	}
	while (g->nsched == 0 || g->sched[g->nsched - 1].start <= x) {
		struct sched s;
		if (g->nsched == SCHED_MAX) {
			memmove(&g->sched[0], &g->sched[1],
				(size_t)(SCHED_MAX - 1) * sizeof g->sched[0]);
			g->nsched--;
		}
		if (g->order_pos == NSTORIES)
			sched_shuffle(g);
		s.story = g->order[g->order_pos++];
		s.ramp = rng_range(&g->sched_rng, 50e3, 70e3);
		s.hold = rng_range(&g->sched_rng, 15e3, 35e3);
		s.decay = rng_range(&g->sched_rng, 120e3, 180e3);
		s.weight = rng_range(&g->sched_rng, 0.75, 1.25);
		if (g->nsched == 0) {
			s.start = rng_range(&g->sched_rng, 0, 20e3);
		} else {
			s.start = g->sched[g->nsched - 1].start +
				  rng_range(&g->sched_rng, 60e3, 90e3);
			if (g->nsched >= 3 && s.start < sched_end(&g->sched[g->nsched - 3]))
				s.start = sched_end(&g->sched[g->nsched - 3]);
		}
		g->sched[g->nsched++] = s;
	}
}

double demo_gen_story_level(struct demo_gen *g, int story, double t_ms)
{
	double x = t_ms * g->speed, level = 0;
	sched_extend(g, x);
	for (int i = 0; i < g->nsched; i++)
		if (g->sched[i].story == story)
			level += story_level_of(&g->sched[i], x);
	return level;
}

/* Sum of story levels at feed time t; fills levels[] per schedule slot. */
static double story_load(struct demo_gen *g, double t, double *levels)
{
	double x = t * g->speed, sum = 0;
	sched_extend(g, x);
	for (int i = 0; i < g->nsched; i++) {
		levels[i] = story_level_of(&g->sched[i], x);
		sum += levels[i];
	}
	return sum;
}

/* Background posts: this share of posts_per_s, with a slow wobble. */
#define BG_SHARE     0.7
/* Story posts per unit of story level, as a share of posts_per_s. */
#define STORY_SHARE  0.3

static double rates(struct demo_gen *g, double t, double pps, double *bg, double *levels)
{
	double wobble = 1.0 + 0.12 * sin(2 * M_PI * t / 97e3) + 0.08 * sin(2 * M_PI * t / 23e3 + 1);
	double load = story_load(g, t, levels);
	if (load > 2.5)
		load = 2.5;
	*bg = pps * BG_SHARE * wobble;
	return pps * STORY_SHARE * load;
}

double demo_gen_next_time(struct demo_gen *g, double posts_per_s)
{
	double levels[SCHED_MAX], bg;
	double st = rates(g, g->t, posts_per_s, &bg, levels);
	double r = (bg + st) / 1000.0;   /* per ms */
	double u = 1.0 - rng_unit(&g->rng);
	g->t += -log(u) / (r > 1e-9 ? r : 1e-9);
	return g->t;
}

void demo_gen_skip_to(struct demo_gen *g, double t_ms)
{
	if (t_ms > g->t)
		g->t = t_ms;
}

/* ----------------------------------------------------------------- accounts */

static void copy_ascii_lower(char *dst, size_t cap, const char *src, size_t n)
{
	size_t j = strlen(dst);
	for (size_t i = 0; i < n && src[i] && j + 1 < cap; i++) {
		char c = src[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
			dst[j++] = c;
	}
	dst[j] = 0;
}

/* Splits "ascii|Display" into its parts; a plain entry is its own display form. */
static void name_parts(const char *entry, const char **ascii, size_t *alen, const char **disp)
{
	const char *bar = strchr(entry, '|');
	*ascii = entry;
	*alen = bar ? (size_t)(bar - entry) : strlen(entry);
	*disp = bar ? bar + 1 : entry;
}

static void append_display(char *dst, size_t cap, const char *s)
{
	size_t j = strlen(dst), n = strlen(s);
	if (j + n + 1 > cap)
		return;
	memcpy(dst + j, s, n + 1);
	/* Plain ASCII names are stored lower-case; capitalise for display. */
	if (dst[j] >= 'a' && dst[j] <= 'z')
		dst[j] = (char)(dst[j] - 'a' + 'A');
}

static int account_make(struct demo_gen *g, uint32_t i, uint64_t *seen, uint32_t seen_mask)
{
	struct rng *r = &g->rng;
	struct demo_account *a = &g->accounts[i];
	uint32_t roll = rng_below(r, 100), acc = 0;
	int lang = EN;

	memset(a, 0, sizeof *a);
	for (int l = 0; l < NLANGS; l++) {
		acc += langs[l].share;
		if (roll < acc) {
			lang = l;
			break;
		}
	}
	a->lang = (uint8_t)lang;
	const struct lang_vocab *lv = &langs[lang];

	if (rng_chance(r, 0.45)) {
		uint32_t total = 0, pick;
		for (size_t h = 0; h < sizeof hosts / sizeof *hosts; h++)
			if (hosts[h].lang < 0 || hosts[h].lang == lang)
				total += hosts[h].weight;
		pick = rng_below(r, total);
		for (size_t h = 0; h < sizeof hosts / sizeof *hosts; h++) {
			if (hosts[h].lang >= 0 && hosts[h].lang != lang)
				continue;
			if (pick < hosts[h].weight) {
				a->domain = hosts[h].name;
				break;
			}
			pick -= hosts[h].weight;
		}
	}

	const char *fa, *fd, *la, *ld;
	size_t fl, ll;
	name_parts(wl_any(r, &lv->first), &fa, &fl, &fd);
	name_parts(wl_any(r, &lv->last), &la, &ll, &ld);
	const char *adj = wl_any(r, &handle_adj), *noun = wl_any(r, &handle_noun);
	uint32_t style = rng_below(r, 10);

	for (int attempt = 0; attempt < 64; attempt++) {
		a->username[0] = 0;
		switch (style) {
		case 0: case 1:
			copy_ascii_lower(a->username, sizeof a->username, fa, fl);
			break;
		case 2: case 3:
			copy_ascii_lower(a->username, sizeof a->username, fa, fl);
			copy_ascii_lower(a->username, sizeof a->username, "_", 1);
			copy_ascii_lower(a->username, sizeof a->username, la, 1);
			break;
		case 4: case 5:
			copy_ascii_lower(a->username, sizeof a->username, fa, fl);
			copy_ascii_lower(a->username, sizeof a->username, la, ll);
			break;
		case 6: case 7: case 8:
			copy_ascii_lower(a->username, sizeof a->username, adj, strlen(adj));
			copy_ascii_lower(a->username, sizeof a->username, noun, strlen(noun));
			break;
		default:
			copy_ascii_lower(a->username, sizeof a->username, la, ll);
			break;
		}
		if (attempt > 0 || style == 9) {
			char num[12];
			snprintf(num, sizeof num, "%u", attempt > 3 ? rng_below(r, 100000)
								   : rng_below(r, 100));
			copy_ascii_lower(a->username, sizeof a->username, num, strlen(num));
		}
		/* acct must be unique per instance: probe a set of hashes of user@domain. */
		uint64_t h = hash_bytes(a->username, strlen(a->username));
		if (a->domain)
			h = hash_bytes_seed(a->domain, strlen(a->domain), h);
		h |= 1;
		uint32_t slot = (uint32_t)h & seen_mask;
		while (seen[slot] && seen[slot] != h)
			slot = (slot + 1) & seen_mask;
		if (!seen[slot]) {
			seen[slot] = h;
			goto named;
		}
	}
	return -EEXIST;

named:
	switch (rng_below(r, 8)) {
	case 0:
		break;   /* many people never set a display name */
	case 1: case 2:
		append_display(a->display_name, sizeof a->display_name, fd);
		break;
	case 3:
		append_display(a->display_name, sizeof a->display_name, adj);
		append_display(a->display_name, sizeof a->display_name, " ");
		append_display(a->display_name, sizeof a->display_name, noun);
		break;
	default:
		if (lang == JA) {
			/* Family name first, no space. */
			append_display(a->display_name, sizeof a->display_name, ld);
			append_display(a->display_name, sizeof a->display_name, fd);
		} else {
			append_display(a->display_name, sizeof a->display_name, fd);
			append_display(a->display_name, sizeof a->display_name, " ");
			append_display(a->display_name, sizeof a->display_name, ld);
		}
		break;
	}
	if (a->display_name[0] && rng_chance(r, 0.15)) {
		append_display(a->display_name, sizeof a->display_name, " ");
		append_display(a->display_name, sizeof a->display_name, wl_any(r, &handle_emoji));
	}

	/* Sign-up between 2016-04-01 and 2026-01-01, more around the late-2022 wave. */
	int64_t lo = clock_days_from_civil(2016, 4, 1), hi = clock_days_from_civil(2026, 1, 1);
	int64_t wave = clock_days_from_civil(2022, 11, 1);
	int64_t day = rng_chance(r, 0.35) ? wave + (int64_t)rng_below(r, 120)
					  : lo + (int64_t)rng_below(r, (uint32_t)(hi - lo));
	a->created_ms = day * 86400000;
	int64_t signup_ms = a->created_ms + (int64_t)rng_below(r, 86400000);
	a->id = ((uint64_t)signup_ms << 16) | (i & 0xffff);

	a->followers = (uint32_t)exp(4.0 + 1.6 * rng_normal(r));
	a->following = (uint32_t)exp(4.5 + 1.0 * rng_normal(r));
	a->statuses_base = (uint32_t)exp(6.0 + 1.5 * rng_normal(r));
	a->bot = rng_chance(r, 0.01);
	a->locked = rng_chance(r, 0.03);
	a->note = wl_any(r, &lv->notes);
	return 0;
}

/* ------------------------------------------------------------------- URLs */

static void put_lower(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		char c = *s;
		sb_putc(sb, c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
	}
}

void demo_tag_name(struct strbuf *sb, const char *tag)
{
	put_lower(sb, tag);
}

void demo_tag_url(struct strbuf *sb, const char *tag)
{
	static const char hex[] = "0123456789ABCDEF";
	sb_puts(sb, "https://" DEMO_LOCAL_DOMAIN "/tags/");
	for (const unsigned char *p = (const unsigned char *)tag; *p; p++) {
		unsigned char c = *p;
		if (c >= 'A' && c <= 'Z') {
			sb_putc(sb, (char)(c - 'A' + 'a'));
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
			sb_putc(sb, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			sb_append(sb, e, 3);
		}
	}
}

void demo_account_url(struct strbuf *sb, const struct demo_account *a)
{
	sb_puts(sb, "https://");
	sb_puts(sb, a->domain ? a->domain : DEMO_LOCAL_DOMAIN);
	sb_puts(sb, "/@");
	sb_puts(sb, a->username);
}

void demo_account_uri(struct strbuf *sb, const struct demo_account *a)
{
	if (a->domain) {
		sb_puts(sb, "https://");
		sb_puts(sb, a->domain);
		sb_puts(sb, "/users/");
		sb_puts(sb, a->username);
	} else {
		sb_puts(sb, "https://" DEMO_LOCAL_DOMAIN "/ap/users/");
		sb_put_u64(sb, a->id);
	}
}

/* ------------------------------------------------------------------- HTML */

/* Mastodon's escaping of text in content: & < > " and ' (as &#39;). */
static void html_text(struct strbuf *sb, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		const char *e;
		switch (s[i]) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&#39;"; break;
		default: run++; continue;
		}
		sb_append(sb, s + i - run, run);
		run = 0;
		sb_puts(sb, e);
	}
	sb_append(sb, s + n - run, run);
}

static void html_hashtag(struct strbuf *sb, const char *tag)
{
	sb_puts(sb, "<a href=\"");
	demo_tag_url(sb, tag);
	sb_puts(sb, "\" class=\"mention hashtag\" rel=\"tag\">#<span>");
	html_text(sb, tag, strlen(tag));
	sb_puts(sb, "</span></a>");
}

static void html_mention(struct strbuf *sb, const struct demo_account *a)
{
	sb_puts(sb, "<span class=\"h-card\" translate=\"no\"><a href=\"");
	demo_account_url(sb, a);
	sb_puts(sb, "\" class=\"u-url mention\">@<span>");
	sb_puts(sb, a->username);
	sb_puts(sb, "</span></a></span>");
}

/*
 * A link the way Mastodon shortens it: the scheme (and www.) hidden, 30
 * characters shown, the rest hidden behind an ellipsis.
 */
static void html_link(struct strbuf *sb, const char *url)
{
	size_t n = strlen(url), pre = 0;
	if (strncmp(url, "https://", 8) == 0)
		pre = 8;
	else if (strncmp(url, "http://", 7) == 0)
		pre = 7;
	if (pre && strncmp(url + pre, "www.", 4) == 0)
		pre += 4;
	size_t shown = n - pre > 30 ? 30 : n - pre;
	sb_puts(sb, "<a href=\"");
	html_text(sb, url, n);
	sb_puts(sb, "\" target=\"_blank\" rel=\"nofollow noopener\" translate=\"no\">"
		"<span class=\"invisible\">");
	html_text(sb, url, pre);
	sb_puts(sb, n - pre > 30 ? "</span><span class=\"ellipsis\">" : "</span><span class=\"\">");
	html_text(sb, url + pre, shown);
	sb_puts(sb, "</span><span class=\"invisible\">");
	html_text(sb, url + pre + shown, n - pre - shown);
	sb_puts(sb, "</span></a>");
}

/* ------------------------------------------------------------ composition */

struct compose {
	struct demo_gen *g;
	const struct lang_vocab *lv;
	const struct story_lang *sl;  /* NULL for background posts */
	const struct topic *topic;    /* background topic, or NULL */
	double mood;                  /* -1 .. 1 */
};

static const char *sentiment_word(struct compose *c, int kind)
{
	struct rng *r = &c->g->rng;
	/* Steep in the mood, so the words of one post mostly agree. */
	if (kind == 's')
		kind = rng_unit(r) < 0.5 + 0.5 * tanh(3.0 * c->mood) ? 'p' : 'q';
	return wl_zipf(r, kind == 'p' ? &c->lv->pos : &c->lv->neg, 0.8);
}

static const char *slot_word(struct compose *c, char slot)
{
	struct rng *r = &c->g->rng;
	const struct lang_vocab *lv = c->lv;
	switch (slot) {
	case 'n': return wl_zipf(r, &lv->nouns, 1.0);
	case 'p': case 'q': case 's': return sentiment_word(c, slot);
	case 'x': return wl_zipf(r, &lv->intens, 0.7);
	case 'a': return wl_zipf(r, &lv->acts, 0.6);
	case 't': return wl_zipf(r, &lv->times, 0.8);
	case 'o': return wl_zipf(r, &lv->opens, 0.5);
	case 'c': return wl_zipf(r, &lv->closes, 0.5);
	case 'k':
		if (c->sl)
			return wl_zipf(r, &c->sl->subjects, 0.8);
		if (c->topic && lv == &langs[EN])
			return wl_any(r, &c->topic->subjects);
		return wl_zipf(r, &lv->nouns, 1.0);
	case 'e':
		return c->sl ? wl_zipf(r, &c->sl->events, 0.6) : wl_zipf(r, &lv->events, 0.6);
	default: return NULL;
	}
}

/*
 * Expands one template into g->text as plain text: slots filled, spaces left
 * by empty slots collapsed, the first letter capitalised.
 */
static void sentence_make(struct compose *c, const char *tpl)
{
	struct strbuf *t = &c->g->text;
	sb_reset(t);
	for (const char *p = tpl; *p; p++) {
		if (p[0] == '{' && p[1] && p[2] == '}') {
			char slot = p[1];
			bool shout = slot == 'P' || slot == 'Q' || slot == 'S';
			const char *w = slot_word(c, shout ? (char)(slot - 'A' + 'a') : slot);
			if (w) {
				size_t at = t->len, k = at;
				sb_puts(t, w);
				for (size_t i = at; shout && !t->failed && i < t->len; i++)
					if (t->buf[i] >= 'a' && t->buf[i] <= 'z')
						t->buf[i] = (char)(t->buf[i] - 'a' + 'A');
				/* A word opening a new sentence gets a capital (not a
				 * closer: "lol" stays lower-case). */
				while (k > 0 && t->buf[k - 1] == ' ')
					k--;
				if (!t->failed && slot != 'c' && k > 0 && k < at &&
				    strchr(".!?", t->buf[k - 1]) && t->buf[at] >= 'a' &&
				    t->buf[at] <= 'z')
					t->buf[at] = (char)(t->buf[at] - 'a' + 'A');
				p += 2;
				continue;
			}
		}
		sb_putc(t, *p);
	}
	if (t->failed)
		return;

	/* Collapse runs of spaces and trim both ends. */
	size_t j = 0;
	for (size_t i = 0; i < t->len; i++) {
		if (t->buf[i] == ' ' && (j == 0 || t->buf[j - 1] == ' '))
			continue;
		t->buf[j++] = t->buf[i];
	}
	while (j > 0 && t->buf[j - 1] == ' ')
		j--;
	t->buf[j] = 0;
	t->len = j;

	/* Capitalise the first letter, after any opening ¡ ¿ or quote. */
	size_t i = 0;
	while (i < t->len && (t->buf[i] == '"' ||
			      (i + 1 < t->len && (unsigned char)t->buf[i] == 0xC2 &&
			       ((unsigned char)t->buf[i + 1] == 0xA1 ||
				(unsigned char)t->buf[i + 1] == 0xBF))))
		i += t->buf[i] == '"' ? 1 : 2;
	if (i < t->len && t->buf[i] >= 'a' && t->buf[i] <= 'z')
		t->buf[i] = (char)(t->buf[i] - 'a' + 'A');
}

static bool tag_add(struct demo_status *st, const char *tag)
{
	if (!tag || !*tag || st->ntags >= DEMO_MAX_TAGS)
		return false;
	for (int i = 0; i < st->ntags; i++)
		if (strcasecmp(st->tags[i], tag) == 0)
			return false;
	st->tags[st->ntags++] = tag;
	return true;
}

static bool mention_add(struct demo_status *st, uint32_t account)
{
	if (account == st->account || st->nmentions >= DEMO_MAX_MENTIONS)
		return false;
	for (int i = 0; i < st->nmentions; i++)
		if (st->mentions[i] == account)
			return false;
	st->mentions[st->nmentions++] = account;
	return true;
}

static void link_make(struct compose *c, const struct story *story, struct strbuf *url)
{
	struct rng *r = &c->g->rng;
	const char *domain, *path;
	if (story) {
		domain = story->domain;
		path = wl_any(r, &story->paths);
	} else {
		const struct link_site *s = &sites[rng_zipf(r, NSITES, 0.9)];
		domain = s->domain;
		path = wl_any(r, &s->paths);
	}
	sb_puts(url, "https://");
	sb_puts(url, domain);
	sb_puts(url, path);
	if (rng_chance(r, 0.2))
		sb_puts(url, strchr(path, '?') ? "&utm_source=mastodon" : "?utm_source=mastodon");
}

/* Before a link or trailing hashtags: a space, a line break or a new paragraph. */
static void separator(struct strbuf *html, struct rng *r)
{
	uint32_t k = rng_below(r, 10);
	if (k < 2)
		sb_puts(html, "</p><p>");
	else if (k < 3)
		sb_puts(html, "<br />");
	else
		sb_putc(html, ' ');
}

/* ----------------------------------------------------------------- statuses */

static void status_init(struct demo_status *st)
{
	memset(st, 0, sizeof *st);
	st->in_reply_to_account = DEMO_NO_ACCOUNT;
	st->story = -1;
	st->spoiler = "";
}

void demo_status_clear(struct demo_status *st)
{
	free(st->content);
	status_init(st);
}

static const struct story_lang *story_lang_for(const struct story *s, int lang)
{
	for (int i = 0; i < s->nlangs; i++)
		if (s->langs[i].lang == lang)
			return &s->langs[i];
	return NULL;
}

int demo_gen_status(struct demo_gen *g, double t_ms, demo_recent_fn recent, void *ctx,
		    struct demo_status *st)
{
	struct rng *r = &g->rng;
	double levels[SCHED_MAX], bg;
	struct demo_status *parent = NULL;
	struct strbuf html = STRBUF_INIT, url = STRBUF_INIT;
	int story = -1;

	status_init(st);

	/* Which story, if any: in proportion to the current rates. */
	double sr = rates(g, t_ms, 1.0, &bg, levels);
	if (rng_unit(r) * (bg + sr) < sr) {
		double pick = rng_unit(r) * sr / STORY_SHARE;
		for (int i = 0; i < g->nsched; i++) {
			if (levels[i] <= 0)
				continue;   /* planned, not running */
			story = g->sched[i].story;
			if (pick < levels[i])
				break;
			pick -= levels[i];
		}
	}

	if (recent && rng_chance(r, 0.08)) {
		parent = recent(ctx, rng_zipf(r, 50, 1.0));
		if (parent)
			story = parent->story;   /* a reply stays on its thread's topic */
	}

	/* Stories are posted by many accounts, background by a Zipf-active few. */
	const struct story *sp = story >= 0 ? &stories[story] : NULL;
	if (sp && g->nby_lang[sp->home] && rng_chance(r, 0.6))
		st->account = g->by_lang[sp->home][rng_below(r, g->nby_lang[sp->home])];
	else if (sp)
		st->account = rng_below(r, g->naccounts);
	else
		st->account = rng_zipf(r, g->naccounts, 0.6);
	struct demo_account *a = &g->accounts[st->account];
	a->posted++;
	st->statuses_count = a->statuses_base + a->posted;
	st->story = (int8_t)story;

	int lang = a->lang;
	if (lang != EN && rng_chance(r, 0.08))
		lang = EN;   /* plenty of people post in English now and then */
	struct compose c = { g, &langs[lang], NULL, NULL, 0 };
	if (sp) {
		c.sl = story_lang_for(sp, lang);
		if (!c.sl) {
			lang = EN;
			c.lv = &langs[EN];
			c.sl = &sp->langs[0];
		}
		c.mood = sp->mood + 0.35 * rng_normal(r);
	} else {
		c.topic = &topics[rng_zipf(r, NTOPICS, 1.0)];
		c.mood = 0.15 + 0.5 * rng_normal(r);
	}
	if (c.mood > 1)
		c.mood = 1;
	if (c.mood < -1)
		c.mood = -1;
	st->lang = rng_chance(r, 0.03) ? NULL : c.lv->code;

	/* Replies name the person they answer; a few posts mention someone else. */
	if (parent) {
		st->in_reply_to_id = parent->id;
		st->in_reply_to_account = parent->account;
		if (parent->replies < UINT16_MAX)
			parent->replies++;
		mention_add(st, parent->account);
	}
	if (rng_chance(r, 0.05))
		mention_add(st, rng_zipf(r, g->naccounts, 0.8));
	if (rng_chance(r, 0.01))
		mention_add(st, rng_below(r, g->naccounts));

	/* Hashtags: the story's own, or the topic's, or the language's favourites. */
	double tag_scale = parent ? 0.5 : 1.0;
	if (sp) {
		if (rng_chance(r, 0.85 * tag_scale))
			tag_add(st, sp->tags[0]);
		if (rng_chance(r, 0.3 * tag_scale))
			tag_add(st, sp->tags[1]);
	} else {
		if (rng_chance(r, 0.35 * tag_scale))
			tag_add(st, c.topic->tag);
		if (rng_chance(r, 0.08 * tag_scale))
			tag_add(st, wl_any(r, &c.lv->tags));
	}
	if (rng_chance(r, 0.04))
		tag_add(st, wl_any(r, &c.lv->tags));

	bool spaced = c.lv->spaced;
	bool lead_tag = st->ntags > 0 && rng_chance(r, 0.2);
	sb_puts(&html, "<p>");
	for (int i = 0; i < st->nmentions; i++) {
		html_mention(&html, &g->accounts[st->mentions[i]]);
		sb_putc(&html, ' ');
	}
	if (lead_tag) {
		html_hashtag(&html, st->tags[0]);
		sb_putc(&html, ' ');
	}
	int nsent = 1 + rng_chance(r, 0.45) + rng_chance(r, 0.15);
	for (int i = 0; i < nsent; i++) {
		const struct wl *tpls = sp && (i == 0 || rng_chance(r, 0.5)) ? &c.lv->story_tpl
									 : &c.lv->bg_tpl;
		if (i > 0) {
			if (rng_chance(r, 0.12))
				sb_puts(&html, "</p><p>");
			else if (spaced)
				sb_putc(&html, ' ');
		}
		sentence_make(&c, wl_zipf(r, tpls, 0.3));
		html_text(&html, g->text.buf ? g->text.buf : "", g->text.len);
	}
	if (g->text.failed)
		goto nomem;

	if (rng_chance(r, sp ? 0.45 : 0.3)) {
		int n = 1 + rng_chance(r, 0.3);
		if (spaced)
			sb_putc(&html, ' ');
		for (int i = 0; i < n; i++) {
			const struct wl *set = sp && rng_chance(r, 0.6) ? &sp->emoji
					       : c.mood >= 0 ? &emoji_pos : &emoji_neg;
			sb_puts(&html, wl_zipf(r, set, 0.9));
		}
	}

	if (rng_chance(r, sp ? 0.35 : 0.12)) {
		link_make(&c, sp, &url);
		if (url.failed)
			goto nomem;
		separator(&html, r);
		html_link(&html, url.buf);
	}

	if (st->ntags > (lead_tag ? 1 : 0)) {
		separator(&html, r);
		for (int i = lead_tag ? 1 : 0; i < st->ntags; i++) {
			html_hashtag(&html, st->tags[i]);
			if (i + 1 < st->ntags)
				sb_putc(&html, ' ');
		}
	}
	sb_puts(&html, "</p>");
	if (html.failed)
		goto nomem;
	st->content = sb_detach(&html, NULL);
	sb_free(&url);

	if (sp && sp->spoiler && rng_chance(r, 0.2))
		st->spoiler = sp->spoiler;
	else if (rng_chance(r, 0.02))
		st->spoiler = wl_any(r, &spoilers);
	st->sensitive = st->spoiler[0] != 0;
	if (rng_chance(r, 0.04))
		st->edit_delay_ms = 10000 + (int64_t)rng_below(r, 290000);
	if (!a->domain) {
		const struct app *app = &apps[rng_zipf(r, NAPPS, 1.2)];
		st->app = app->name;
		st->app_website = app->website;
	}
	double pop = exp(0.8 + 1.3 * rng_normal(r)) - 1.0;
	if (sp)
		pop *= 2;
	st->favourite_pop = a->bot || pop < 0 ? 0 : (uint32_t)fmin(pop, 50000);
	st->reblogs = (uint16_t)(st->favourite_pop / 4);
	return 0;

nomem:
	sb_free(&html);
	sb_free(&url);
	demo_status_clear(st);
	return -ENOMEM;
}

/* -------------------------------------------------------------- life cycle */

int demo_gen_new(struct demo_gen **out, uint64_t seed, uint32_t naccounts, double story_speed)
{
	struct demo_gen *g = calloc(1, sizeof *g);
	uint64_t *seen = NULL;
	int rc = -ENOMEM;

	*out = NULL;
	if (!g)
		return -ENOMEM;
	if (naccounts < 50)
		naccounts = 50;
	if (naccounts > 100000)
		naccounts = 100000;
	g->speed = story_speed > 0 ? story_speed : 1.0;
	rng_seed(&g->rng, seed);
	rng_seed(&g->sched_rng, seed ^ 0x5ced5ced5ced5cedull);
	sb_init(&g->text);
	for (size_t i = 0; i < NSTORIES; i++)
		g->order[i] = (int)i;
	g->order_pos = NSTORIES;

	uint32_t cap = 1;
	while (cap < naccounts * 4)
		cap <<= 1;
	seen = calloc(cap, sizeof *seen);
	g->accounts = calloc(naccounts, sizeof *g->accounts);
	if (!seen || !g->accounts)
		goto fail;
	g->naccounts = naccounts;
	for (uint32_t i = 0; i < naccounts; i++) {
		rc = account_make(g, i, seen, cap - 1);
		if (rc < 0)
			goto fail;
		g->nby_lang[g->accounts[i].lang]++;
	}
	rc = -ENOMEM;
	for (int l = 0; l < NLANGS; l++) {
		g->by_lang[l] = malloc((g->nby_lang[l] + 1) * sizeof *g->by_lang[l]);
		if (!g->by_lang[l])
			goto fail;
		g->nby_lang[l] = 0;
	}
	for (uint32_t i = 0; i < naccounts; i++) {
		int l = g->accounts[i].lang;
		g->by_lang[l][g->nby_lang[l]++] = i;
	}
	free(seen);
	*out = g;
	return 0;

fail:
	free(seen);
	demo_gen_free(g);
	return rc;
}

void demo_gen_free(struct demo_gen *g)
{
	if (!g)
		return;
	for (int l = 0; l < NLANGS; l++)
		free(g->by_lang[l]);
	free(g->accounts);
	sb_free(&g->text);
	free(g);
}

const struct demo_account *demo_gen_account(const struct demo_gen *g, uint32_t idx)
{
	return idx < g->naccounts ? &g->accounts[idx] : NULL;
}

uint32_t demo_gen_account_count(const struct demo_gen *g)
{
	return g->naccounts;
}
